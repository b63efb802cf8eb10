"""Command line of the classification experiments.

The main command line (`python -m training`) registers these:

    add_classify_parser(subparsers)   ->  `classify ...`, runs `run_classify`
    add_figure3_arguments(parser)     ->  `sweep --figure3 ...` options;
                                          dispatch to `run_figure3_sweep`
                                          when `args.figure3` is set

`python -m training.classification classify|sweep ...` works on its own
(`main`). Examples:

    python -m training.classification classify --data embedded-radio \\
        --transform dct --target-budget 0.25 --run-dir runs/radio-dct-25
    python -m training.classification classify --run-dir runs/radio-dct-25 --resume
    python -m training.classification sweep --figure3 --run-dir runs/figure3
"""

import argparse
import sys

from training.classification.data import DATA_CHOICES
from training.classification.data import EMBEDDED

FIGURE3_DEFAULT_DATA = ",".join(EMBEDDED)


FOREIGN_DEFAULTS = "_figure3_foreign_defaults"


def _add(parser, *flags, **kwargs):
    """Adds an option unless the parser already has it.

    The main CLI's `sweep` parser defines options of its own for the
    detection sweep (--data, --epochs, --scale-learning-rate-factor, ...),
    possibly with detection defaults. Their defaults are recorded, so that
    `run_figure3_sweep` reads an untouched option as "the dataset's default"
    rather than as the detection job's value.
    """
    known = parser._option_string_actions
    existing = [known[flag] for flag in flags if flag in known]
    if not existing:
        parser.add_argument(*flags, **kwargs)
        return
    foreign = dict(parser.get_default(FOREIGN_DEFAULTS) or {})
    foreign[existing[0].dest] = existing[0].default
    parser.set_defaults(**{FOREIGN_DEFAULTS: foreign})


def _add_training_options(parser):
    _add(parser, "--epochs", type=int, default=None, help="default: the dataset's schedule")
    _add(parser, "--batch-size", type=int, default=None, help="default: the dataset's schedule")
    _add(parser, "--optimizer", choices=("sgd", "adam"), default=None)
    _add(parser, "--learning-rate", type=float, default=None)
    _add(parser, "--momentum", type=float, default=None, help="SGD momentum")
    _add(
        parser, "--lr-decay-epochs", type=int, nargs="*", default=None,
        help="epochs where the learning rate is multiplied by 0.1",
    )  # fmt: skip
    _add(
        parser, "--scale-learning-rate-factor", type=float, default=None,
        help="learning rate of the Resolution scales over the weights'",
    )  # fmt: skip
    _add(parser, "--taper", type=float, default=None, help="taper length (paper: 4)")
    _add(
        parser, "--penalty-weight", type=float, default=None,
        help="lambda (paper and default: 100; 1000 on the embedded data)",
    )  # fmt: skip
    _add(parser, "--complexity-definition", choices=("linear", "area"), default=None)
    _add(parser, "--width", type=int, default=None, help="ResNet-18 stage-1 channels")
    _add(parser, "--seed", type=int, default=None)
    _add(parser, "--data-dir", default=None, help="tensorflow-datasets directory (CIFAR-100)")
    _add(
        parser, "--max-examples", type=int, default=None,
        help="RadioML: seeded subset of N frames; embedded: N training examples",
    )  # fmt: skip
    _add(
        parser, "--checkpoint-every", type=int, default=None,
        help="also checkpoint every N batches (default: epoch ends only)",
    )  # fmt: skip
    _add(parser, "--quiet", action="store_true", help="no progress bars")


def add_classify_parser(subparsers):
    """Registers `classify` on an argparse subparsers object.

    Returns:
        The `classify` parser (its `func` default is `run_classify`).
    """
    parser = subparsers.add_parser(
        "classify",
        help="train one classifier under a complexity budget (paper section 5.1)",
        description="Train a ResNet-18 (images) or 1D CNN (I/Q) with Resolution "
        "layers under lambda*(C/C_full - p*)^2, or its fixed baseline.",
    )
    parser.add_argument(
        "--data", default="embedded-images", help=f"one of {', '.join(DATA_CHOICES)}"
    )
    parser.add_argument("--transform", default="dct", help="dct, dft or fixed (the baseline)")
    parser.add_argument(
        "--target-budget", type=float, default=None, help="p* in (0, 1] (default 0.5)"
    )
    parser.add_argument("--run-dir", default=None, help="default: runs/classify-DATA-TRANSFORM-P")
    parser.add_argument(
        "--resume", nargs="?", const=True, default=False, metavar="RUN_DIR",
        help="continue the run in --run-dir (or RUN_DIR) from its last checkpoint",
    )  # fmt: skip
    _add_training_options(parser)
    parser.set_defaults(func=run_classify)
    return parser


def add_figure3_arguments(parser):
    """Adds the `--figure3` sweep options to the main CLI's `sweep` parser.

    Options the parser already has (`--data`, `--epochs`, `--run-dir`,
    `--seed`, `--resume`, ...) are left as they are; `run_figure3_sweep`
    reads them from `args`.
    """
    _add(parser, "--figure3", action="store_true", help="the paper's Figure 3 sweep")
    _add(
        parser, "--data", default=None,
        help=f"comma-separated datasets (Figure 3 default: {FIGURE3_DEFAULT_DATA})",
    )  # fmt: skip
    _add(
        parser, "--targets", type=float, nargs="+", default=None,
        help="target budgets p* (default 0.1 0.25 0.5 1.0; C_base/C_full is added)",
    )  # fmt: skip
    _add(parser, "--transforms", nargs="+", default=None, help="default: dct dft")
    _add(parser, "--run-dir", default=None, help="sweep directory (default runs/figure3)")
    _add(
        parser, "--resume", nargs="?", const=True, default=False, metavar="SWEEP_DIR",
        help="continue an interrupted sweep",
    )  # fmt: skip
    _add_training_options(parser)
    return parser


def _options(args):
    """`ClassifyConfig` options from `args`; None where left at a default
    (ours, or one the main CLI set for detection)."""
    names = (
        "epochs", "batch_size", "optimizer", "learning_rate", "momentum",
        "lr_decay_epochs", "scale_learning_rate_factor", "penalty_weight",
        "complexity_definition", "taper", "width", "seed", "data_dir",
        "max_examples", "checkpoint_every",
    )  # fmt: skip
    foreign = getattr(args, FOREIGN_DEFAULTS, None) or {}
    options = {}
    for name in names:
        value = getattr(args, name, None)
        options[name] = None if name in foreign and value == foreign[name] else value
    return options


def _run_dir(args, default):
    if isinstance(args.resume, str):
        return args.resume
    return args.run_dir or default


def run_classify(args):
    """Runs `classify` from parsed arguments; returns the final results."""
    from training.classification.config import resolve_config
    from training.classification.job import run_classification

    resume = bool(args.resume)
    config = None
    if not resume:
        config = resolve_config(
            args.data, transform=args.transform, target_budget=args.target_budget, **_options(args)
        )
    target = "" if config is None or config.target_budget is None else f"-p{config.target_budget:g}"
    default_dir = f"runs/classify-{args.data.split(':')[0]}-{args.transform}{target}"
    return run_classification(
        config, _run_dir(args, default_dir), resume=resume, verbose=0 if args.quiet else 1
    )


def run_figure3_sweep(args):
    """Runs `sweep --figure3` from parsed arguments; returns the result rows."""
    from training.classification.figure3 import FIGURE3_TARGETS
    from training.classification.figure3 import FIGURE3_TRANSFORMS
    from training.classification.figure3 import run_figure3

    data = getattr(args, "data", None)
    foreign = getattr(args, FOREIGN_DEFAULTS, None) or {}
    if data is None or data == "embedded" or ("data" in foreign and data == foreign["data"]):
        data = FIGURE3_DEFAULT_DATA  # "embedded": both embedded classification sets
    transforms = getattr(args, "transforms", None) or FIGURE3_TRANSFORMS
    return run_figure3(
        [spec.strip() for spec in data.split(",") if spec.strip()],
        _run_dir(args, "runs/figure3"),
        targets=getattr(args, "targets", None) or FIGURE3_TARGETS,
        transforms=transforms,
        resume=bool(args.resume),
        verbose=0 if getattr(args, "quiet", False) else 1,
        **_options(args),
    )


def build_parser():
    """The stand-alone parser of `python -m training.classification`."""
    parser = argparse.ArgumentParser(
        prog="python -m training.classification",
        description="Matched-budget classification experiments (paper section 5.1).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_classify_parser(subparsers)
    sweep = subparsers.add_parser("sweep", help="the paper's Figure 3 sweep (--figure3)")
    add_figure3_arguments(sweep)
    sweep.set_defaults(func=_sweep_command)
    return parser


def _sweep_command(args):
    if not args.figure3:
        raise SystemExit(
            "sweep: only --figure3 is available here "
            "(python -m training sweep --table1 for detection)."
        )
    return run_figure3_sweep(args)


def main(argv=None):
    """Entry point: parses `argv` and runs the command; returns an exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
