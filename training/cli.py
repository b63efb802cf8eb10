"""`python -m training`: one parser per subcommand.

    python -m training train --data embedded            # -> runs/detection
    python -m training train --resume runs/detection
    python -m training evaluate runs/detection
    python -m training classify --data embedded-radio --target-budget 0.25
    python -m training classify --model diffstride --target-budget 0.5
    python -m training classify --model njet-resnet18-safe --target-budget 0.5
    python -m training sweep table1 --data embedded --seeds 0 1 2
    python -m training sweep table1 --data embedded --seeds 0 1 2 --diffstride-hinge-weights 1e-3
    python -m training sweep table1 --data embedded --seeds 0 1 2 --upsamplers bilinear dct fine-tuned srf
    python -m training train --model upsampler --upsampler bilinear
    python -m training train --model srf --srf-stage 1 --srf-target runs/detection
    python -m training train --model srf --srf-stage 3 --srf-generators runs/detection2
    python -m training sweep figure3 --seeds 0 1 2
    python -m training sweep family --data embedded --caps 6000 7360 250MFLOPs --seeds 0
    python -m training layout runs/table1/resolution_lambda0.001_seed0 --baseline runs/table1/baseline_seed0
    python -m training export runs/detection --format onnx   # -> runs/detection/export-onnx

Errors are one line on stderr and exit code 2 (`--debug` shows the
traceback). A new run never writes into a directory that holds a run: by
default it takes the first free name (runs/detection, runs/detection2, ...);
an explicit `--run-dir` that holds a run is refused.
"""

import argparse
import dataclasses
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECIPE = "the data's recipe"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, and "the data's recipe" for options the recipe fills."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.default is None:
            return f"{text} (default: {RECIPE})"
        return f"{text} (default: {action.default})"


def _parser(subparsers, name, help_text):
    parser = subparsers.add_parser(
        name, help=help_text, description=help_text, formatter_class=_HelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    return parser


def _add_detection_options(parser):
    from training.detection.config import FIXED_UPSAMPLERS
    from training.detection.config import GENERATOR_VARIANTS
    from training.detection.config import MODELS
    from training.detection.config import SCALE_STARTS
    from training.detection.config import SRF_STAGES
    from training.detection.config import DetectionConfig

    defaults = DetectionConfig()
    add = parser.add_argument
    add("--data", default=defaults.data,
        help="'embedded' (generated offline), 'voc2007' (the original tarballs) or a "
             "VOCdevkit directory")
    add("--classes", help="class names: comma-separated, or a file with one name per line "
                          "(default: the data's)")
    add("--train-split", help="split file name under ImageSets/Main")
    add("--eval-split", help="split file name under ImageSets/Main")
    add("--strict", action="store_true", help="stop at the first data problem")
    add("--model", default=defaults.model, choices=MODELS,
        help="YOLOv8 with a Resolution PANet, KerasCV's, with a PANet whose bottom-up "
             "downsampling is learned by DiffStride, whose top-down x2 is a fixed "
             "--upsampler, or SRF-GAN's learned x2 (--srf-stage)")
    add("--upsampler", choices=FIXED_UPSAMPLERS,
        help="--model upsampler: the PANet's top-down x2 (nearest is the baseline's graph) "
             "(default: none)")
    add("--srf-stage", type=int, choices=SRF_STAGES,
        help="--model srf: 1 trains the generators on a baseline run's PANet maps "
             "(--srf-target), 3 fine-tunes that baseline with them on the detection loss "
             "(--srf-generators) (default: none)")
    add("--srf-target", metavar="RUN_DIR",
        help="SRF-GAN stage 1: a finished baseline run, the frozen target; --model "
             "upsampler: a finished baseline run to start from and fine-tune (default: none)")
    add("--srf-generators", metavar="RUN_DIR",
        help="SRF-GAN stage 3: a finished stage-1 run (default: none)")
    add("--generator-variant", default=defaults.generator_variant, choices=GENERATOR_VARIANTS,
        help="SRF-GAN generator: the paper's or the released code's (rrdb)")
    add("--generator-blocks", type=int,
        help="SRF-GAN generator blocks (default: the variant's, 5 or 3)")
    add("--discriminator-width-multiplier", type=float,
        help="SRF-GAN stage 1: discriminator widths over the paper's 512/1024/1024")
    add("--adversarial-weight", type=float, default=defaults.adversarial_weight,
        help="SRF-GAN stage 1: lambda of the adversarial term")
    add("--hinge-weight", type=float, default=defaults.hinge_weight,
        help="lambda of the hinge penalty max(0, C_PAN - cap) (resolution, diffstride)")
    add("--complexity-cap",
        help="PANet complexity cap: cells (e.g. 9200) or multiply-adds per image with a unit "
             "(e.g. 0.8GFLOPs, 750MFLOPs), which budgets FLOPs (default: the baseline's cells)")
    add("--image-size", type=int, help="model input side, a multiple of 32")
    add("--epochs", type=int, help="training epochs")
    add("--batch-size", type=int, help="images per batch")
    add("--optimizer", choices=("sgd", "adam"), help="SGD (momentum 0.9) or Adam")
    add("--learning-rate", type=float, help="first learning rate")
    add("--final-learning-rate", type=float,
        help="last learning rate (from 85%% of training; the geometric mean from 60%%)")
    add("--scale-learning-rate-factor", type=float,
        help="learning rate of the Resolution scales over the weights'")
    add("--global-clipnorm", type=float, default=defaults.global_clipnorm,
        help="clip the global gradient norm")
    add("--warmup-epochs", type=float, help="epochs of linear learning-rate warmup (0: none)")
    add("--ema-momentum", type=float,
        help="momentum of the moving average of the weights that is evaluated and saved "
             "(0: none)")
    freeze = parser.add_mutually_exclusive_group()
    freeze.add_argument("--freeze-backbone", dest="freeze_backbone", action="store_true",
                        default=None, help="train only PANet and head")
    freeze.add_argument("--train-backbone", dest="freeze_backbone", action="store_false",
                        help="train the backbone too")
    add("--backbone", default=defaults.backbone, choices=("yolo_v8_xs", "resnet50"),
        help="KerasCV backbone")
    add("--weights", help="backbone weights: a .weights.h5 or .keras file, a KerasCV preset, "
                          "'random', or 'embedded-pretrained' (pretrained on the generator's "
                          "crops, cached; made on first use)")
    add("--fpn-depth", type=int, default=defaults.fpn_depth, help="PANet depth (paper: 1)")
    add("--transform", default=defaults.transform, choices=("dct", "dft"),
        help="transform of the Resolution layers")
    add("--taper", type=float, default=defaults.taper, help="taper length (paper: 4)")
    add("--scale-start", default=defaults.scale_start, choices=SCALE_STARTS,
        help="initial scales: 1 (the paper; every size on the ceil boundary) or half a "
             "cell below the boundary (the same sizes)")
    add("--static-sizes", action="store_true",
        help="Resolution layers with static integer sizes, the step traced again when one "
             "changes (fewer ops per step and per trace; logged as size_rebuilds)")
    add("--seed", type=int, default=defaults.seed,
        help="seed of the weights, the data order and the augmentation")
    add("--eval-every", type=int, help="epochs between mAP@0.5 evaluations")
    add("--eval-confidence", type=float, default=defaults.eval_confidence,
        help="NMS confidence threshold of the evaluation")
    add("--checkpoint-every", type=int, default=defaults.checkpoint_every,
        help="also checkpoint every N batches (0: at epoch ends only)")
    add("--strategy", choices=("mirrored",),
        help="tf.distribute strategy over the visible devices (default: none)")
    add("--max-train-images", type=int, help="use only the first N training images "
                                             "(default: all)")
    add("--max-eval-images", type=int, help="use only the first N evaluation images "
                                            "(default: all)")


def _add_classification_options(parser):
    add = parser.add_argument
    add("--epochs", type=int, help="training epochs")
    add("--batch-size", type=int, help="examples per batch")
    add("--optimizer", choices=("sgd", "adam"), help="SGD or Adam")
    add("--learning-rate", type=float, help="first learning rate")
    add("--momentum", type=float, help="SGD momentum (default: 0.99 on cifar100 and radioml, else 0.9)")
    add("--lr-decay-epochs", type=int, nargs="*",
        help="epochs where the learning rate is multiplied by 0.1")
    add("--scale-learning-rate-factor", type=float,
        help="learning rate of the Resolution scales over the weights'")
    add("--penalty-weight", type=float, help="lambda (paper: 100; 1000 on the embedded data)")
    add("--taper", type=float, help="taper length (paper: 4)")
    add("--complexity-definition", choices=("linear", "area"),
        help="how sizes make complexity (default: linear, the paper's section 5)")
    add("--width", type=int, help="ResNet-18 stage-1 channels")
    add("--seed", type=int, help="seed of the weights and the data order (default: 0)")
    add("--data-dir", help="tensorflow-datasets directory of CIFAR-100 (default: tfds' own)")
    add("--max-examples", type=int,
        help="RadioML: a seeded subset of N frames; embedded: N training examples")
    add("--checkpoint-every", type=int, help="also checkpoint every N batches (default: 0, "
                                             "epoch ends only)")


CLASSIFICATION_OPTIONS = (
    "epochs", "batch_size", "optimizer", "learning_rate", "momentum", "lr_decay_epochs",
    "scale_learning_rate_factor", "penalty_weight", "taper", "complexity_definition",
    "width", "seed", "data_dir", "max_examples", "checkpoint_every",
)  # fmt: skip


# `training.classification.comparators.MODELS`, repeated so that building the
# parser does not import Keras (a test checks that they agree).
CLASSIFICATION_MODELS = ("resolution", "diffstride", "spectral", "hybrid", "hybrid-pre-bn",
                         "njet-resnet18", "njet-resnet18-safe", "njet-nin", "njet-nin-safe",
                         "msnet")


# `training.common.model_export.FORMATS`, repeated so that building the parser
# does not import Keras (a test checks that they agree).
EXPORT_FORMATS = ("saved_model", "tflite", "onnx")


def _add_run_options(parser, default_names):
    parser.add_argument("--run-dir", help=f"where the run goes (default: the first free of "
                                          f"{default_names})")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run in RUN_DIR (default: start a new run)")


def build_parser():
    """The parser of `python -m training` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Learnable resolution: train, evaluate and sweep the paper's experiments.",
        formatter_class=_HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = _parser(commands, "train", "train and evaluate one YOLOv8 detector")
    _add_detection_options(train)
    _add_run_options(train, "runs/detection, runs/detection2, ...")

    evaluate = _parser(commands, "evaluate", "evaluate a run's checkpoint again")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best",
                          help="best.keras (else last.keras) or last.keras")
    evaluate.add_argument("--data", help="detection: evaluate on the same split of other "
                                         "data (default: the run's)")

    classify = _parser(commands, "classify",
                       "train one classifier under a complexity budget (paper section 5.1)")
    classify.add_argument("--data", default="embedded-images",
                          help="embedded-images, embedded-radio, cifar100 or radioml:PATH")
    classify.add_argument("--model", default="resolution", choices=CLASSIFICATION_MODELS,
                          help="a Resolution ResNet-18/1D CNN (or, with --transform fixed, its "
                               "baseline), or on image data the DiffStride ResNet-18 of the "
                               "official code, fixed spectral pooling, or the hybrid with "
                               "spectral pooling before global average pooling (hybrid) or "
                               "before the final BN/ReLU (hybrid-pre-bn), or an N-Jet "
                               "ResNet-18 or NiN (every spatial conv an N-Jet layer) without "
                               "or with (-safe) safe subsampling, or MSNet (a low- and a "
                               "high-resolution ResNet-18 with a calibrated early exit)")
    classify.add_argument("--transform", choices=("dct", "dft", "fixed"),
                          help="Resolution layers' transform, or the fixed baseline "
                               "(--model resolution only; default: dct)")
    classify.add_argument("--target-budget", type=float, help="p* in (0, 1] (default: 0.5)")
    _add_classification_options(classify)
    _add_run_options(classify, "runs/classify-DATA-TRANSFORM-pP, ...2, ...")

    sweep = _parser(commands, "sweep", "the paper's Table 1 or Figure 3 sweep")
    sweeps = sweep.add_subparsers(dest="sweep", required=True, metavar="SWEEP")
    table1 = _parser(sweeps, "table1",
                     "detection: baseline, Resolution and DiffStride YOLOv8 under the hinge cap")
    _add_detection_options(table1)
    table1.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    table1.add_argument("--hinge-weights", type=float, nargs="*", default=[0.0, 1e-3, 1e-2],
                        help="lambda of each Resolution model; none gives the baseline alone "
                             "(the seed spread of a recipe)")
    table1.add_argument("--diffstride-hinge-weights", type=float, nargs="*", default=[],
                        help="lambda of each DiffStride PANet row; adding them to a sweep "
                             "directory reuses its finished runs (default: none)")
    table1.add_argument("--upsamplers", nargs="*", default=[],
                        choices=("bilinear", "dct", "fine-tuned", "srf"),
                        help="rows of the PANet's top-down x2: fixed bilinear or DCT, "
                             "SRF-GAN (stage 1 on each seed's baseline run, then stage 3), "
                             "or its control without generators: the seed's baseline "
                             "fine-tuned as stage 3 is (fine-tuned); "
                             "adding them to a sweep directory reuses its finished runs "
                             "(default: none)")
    table1.add_argument("--sweep-dir", default="runs/table1",
                        help="the same command again continues the sweep there")
    table1.add_argument("--report-only", action="store_true",
                        help="train and write nothing: print the table of the runs finished "
                             "so far")
    table1.add_argument("--plot", metavar="PNG",
                        help="with --report-only: also draw the finished runs to this file")
    table1.add_argument("--reference", metavar="ROW", default="baseline",
                        help="with --report-only: the row the paired differences are taken "
                             "from, e.g. \"baseline fine-tuned\", SRF-GAN's control "
                             "(default: baseline)")
    from training.detection.family import DEFAULT_LATENCY_ROUNDS  # imports no Keras

    family = _parser(sweeps, "family",
                     "detection: the baseline and a Resolution YOLOv8 per cap, trained, frozen, "
                     "exported (SavedModel, ONNX) and timed on this machine")
    _add_detection_options(family)
    family.add_argument("--caps", nargs="+", required=True,
                        help="one Resolution model per cap, at least two: PANet cells (7360) "
                             "or multiply-adds per image (250MFLOPs) (default: none, required)")
    family.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    family.add_argument("--sweep-dir", default="runs/family",
                        help="the same command again continues the sweep there")
    family.add_argument("--latency-rounds", type=int, default=DEFAULT_LATENCY_ROUNDS,
                        help="interleaved timing rounds per batch size (batch 1 and 16)")
    family.add_argument("--report-only", action="store_true",
                        help="train and write nothing: print the table of the runs finished "
                             "so far")
    figure3 = _parser(sweeps, "figure3",
                      "classification: fixed, DCT and DFT models across budgets (and, with "
                      "--methods, DiffStride, spectral pooling, the hybrids and the "
                      "N-Jet networks)")
    figure3.add_argument("--data", default="embedded-images,embedded-radio",
                         help="comma-separated datasets")
    figure3.add_argument("--targets", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0],
                         help="target budgets p* (C_base/C_full is added)")
    figure3.add_argument("--transforms", nargs="+", default=["dct", "dft"],
                         choices=("dct", "dft"), help="Resolution transforms to compare")
    figure3.add_argument("--methods", nargs="+", default=[],
                         choices=CLASSIFICATION_MODELS[1:],
                         help="comparator rows on the image data: DiffStride, the hybrids "
                              "and the N-Jet networks with safe subsampling at every p*, fixed "
                              "spectral pooling and the N-Jet networks without it once per "
                              "seed (default: none; adding them to an existing sweep is "
                              "accepted)")
    _add_classification_options(figure3)
    # --seeds replaces the single --seed of one run, which stays as its alias.
    statistics = figure3.add_argument_group("statistics over seeds", conflict_handler="resolve")
    statistics.add_argument("--seeds", "--seed", dest="seeds", type=int, nargs="+", default=[0],
                            help="one run of every model per seed; the summary gives mean, std "
                                 "and 95%% confidence intervals over them")
    figure3.add_argument("--sweep-dir", default="runs/figure3",
                         help="the same command again continues the sweep there")
    figure3.add_argument("--report-only", action="store_true",
                         help="train and write nothing: print the summary of the runs finished "
                              "so far, from the sweep directory's results.csv (the other "
                              "options are not used)")
    figure3.add_argument("--plot", metavar="PNG",
                         help="with --report-only: also draw the finished runs to this file")
    layout = _parser(commands, "layout",
                     "the PANet layout detection runs learned, against a baseline run")
    layout.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="detection run directories")
    layout.add_argument("--baseline", required=True, metavar="RUN_DIR",
                        help="a baseline run at the same image size (the reference sizes)")
    export = _parser(commands, "export",
                     "freeze a run's model and write it as a SavedModel, TFLite or ONNX file, "
                     "checked against Keras")
    export.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                        help="SavedModel directory, TFLite file, or ONNX file (ONNX needs "
                             "pip install 'keras-resolution[export]') (default: none, required)")
    export.add_argument("--output", metavar="PATH",
                        help="directory to write, which must not exist (default: "
                             "RUN_DIR/export-FORMAT, or RUN_DIR/export-FORMAT-last)")
    export.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="best.keras (else last.keras) or last.keras")
    export.add_argument("--check-images", type=int, default=8,
                        help="evaluation images of the run's data the export is checked on")
    export.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest difference to Keras allowed, relative to each output's "
                             "largest absolute value")
    rebuild = _parser(commands, "rebuild",
                      "restore the checkpoints of finished runs whose records were kept without "
                      "them (a clone of docs/runs): train each again and check it writes the "
                      "same records")
    rebuild.add_argument("run_dirs", metavar="RUN_DIR", nargs="+",
                         help="finished run directories (detection or classification)")
    pretrain = _parser(commands, "pretrain-backbone",
                       "pretrain a detection backbone on generated crops, once, into the cache")
    _add_pretraining_options(pretrain)
    return parser


def _add_pretraining_options(parser):
    from training.detection.backbone_pretraining import BackbonePretrainingRecipe

    defaults = BackbonePretrainingRecipe()
    add = parser.add_argument
    add("--backbone", default=defaults.backbone, choices=("yolo_v8_xs", "resnet50"),
        help="KerasCV backbone")
    add("--crop-size", type=int, default=defaults.crop_size,
        help="side of the training crops, a multiple of 32")
    add("--crops-per-class", type=int, default=defaults.crops_per_class,
        help="training crops of each class")
    add("--val-crops-per-class", type=int, default=defaults.val_crops_per_class,
        help="validation crops of each class")
    add("--object-size-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
        default=list(defaults.object_size_range), help="object extent in pixels")
    add("--epochs", type=int, default=defaults.epochs, help="training epochs")
    add("--batch-size", type=int, default=defaults.batch_size, help="crops per batch")
    add("--optimizer", choices=("adam", "sgd"), default=defaults.optimizer,
        help="Adam or SGD (momentum 0.9)")
    add("--learning-rate", type=float, default=defaults.learning_rate,
        help="constant learning rate")
    add("--seed", type=int, default=defaults.seed,
        help="seed of the crops, the weights and the data order")
    add("--cache-dir", help="cache root; the files go to its backbones/ "
                            "(default: $KERAS_RESOLUTION_CACHE or ~/.cache/keras_resolution)")
    add("--force", action="store_true", help="train again even if the cache holds the recipe")


def free_run_dir(stem):
    """The first of `stem`, `stem2`, `stem3`, ... that holds no run."""
    from training.common.run_directory import RunDirectory

    candidate, number = pathlib.Path(stem), 1
    while RunDirectory(candidate).holds_run():
        number += 1
        candidate = pathlib.Path(f"{stem}{number}")
    return candidate


def _detection_config(args):
    from training.detection.config import DetectionConfig

    fields = {field.name for field in dataclasses.fields(DetectionConfig)}
    return DetectionConfig(**{k: v for k, v in vars(args).items() if k in fields})


def _classification_options(args):
    return {name: getattr(args, name) for name in CLASSIFICATION_OPTIONS}


def _check_resume_alone(args):
    """`--resume` continues a run with its own config.json: other options
    would be silently ignored, so they are refused."""
    defaults = vars(build_parser().parse_args([args.command]))
    given = sorted(
        "--" + key.replace("_", "-")
        for key, value in vars(args).items()
        if key not in ("resume", "quiet", "debug") and value != defaults.get(key)
    )
    if given:
        raise ValueError(
            f"--resume continues {args.resume} with its own config.json; drop {', '.join(given)}."
        )


def _train(args, verbose):
    from training.detection.job import train_detection

    if args.resume:
        _check_resume_alone(args)
        return train_detection(None, args.resume, resume=True, verbose=verbose)
    run_dir = args.run_dir or free_run_dir("runs/detection")
    return train_detection(_detection_config(args), run_dir, verbose=verbose)


def _evaluate(args, verbose):
    from training.common.run_directory import RunDirectory

    experiment, _ = RunDirectory(args.run_dir).read_config()
    if experiment == "classification":
        from training.classification.job import evaluate_run

        if args.data is not None:
            raise ValueError("--data: only detection runs can be evaluated on other data.")
        return evaluate_run(args.run_dir, args.checkpoint, verbose)
    from training.detection.job import evaluate_run

    return evaluate_run(args.run_dir, args.checkpoint, args.data, verbose)


def _classify(args, verbose):
    from training.classification.config import resolve_config
    from training.classification.job import run_classification

    if args.resume:
        _check_resume_alone(args)
        return run_classification(None, args.resume, resume=True, verbose=verbose)
    if args.model != "resolution" and args.transform is not None:
        raise ValueError(f"--transform applies to --model resolution, not {args.model}.")
    config = resolve_config(args.data, model=args.model, transform=args.transform,
                            target_budget=args.target_budget, **_classification_options(args))
    target = "" if config.target_budget is None else f"-p{config.target_budget:g}"
    stem = f"runs/classify-{args.data.split(':')[0]}-{config.method}{target}"
    return run_classification(config, args.run_dir or free_run_dir(stem), verbose=verbose)


def _sweep(args, verbose):
    if args.sweep == "table1":
        from training.detection.table1 import run_table1

        return run_table1(_detection_config(args), args.seeds, args.hinge_weights,
                          args.sweep_dir, verbose=verbose, report_only=args.report_only,
                          diffstride_hinge_weights=args.diffstride_hinge_weights,
                          upsamplers=args.upsamplers, plot=args.plot,
                          reference=args.reference)
    if args.sweep == "family":
        from training.detection.family import run_family

        return run_family(_detection_config(args), args.caps, args.seeds, args.sweep_dir,
                          verbose=verbose, report_only=args.report_only,
                          latency_rounds=args.latency_rounds)
    from training.classification.figure3 import report_figure3
    from training.classification.figure3 import run_figure3

    if args.plot is not None and not args.report_only:
        raise ValueError("--plot applies to --report-only (a sweep that trains draws "
                         "plots/figure3.png in its directory).")
    if args.report_only:
        print(report_figure3(args.sweep_dir, args.plot))
        return None
    specs = [spec.strip() for spec in args.data.split(",") if spec.strip()]
    options = {name: getattr(args, name) for name in CLASSIFICATION_OPTIONS if name != "seed"}
    return run_figure3(specs, args.sweep_dir, targets=args.targets, transforms=args.transforms,
                       seeds=args.seeds, verbose=verbose, methods=args.methods, **options)


def _layout(args, verbose):
    from training.detection.layout import layout_report

    print(layout_report(args.run_dirs, args.baseline))


def _export(args, verbose):
    from training.common.export import export_run

    return export_run(args.run_dir, args.format, output=args.output, checkpoint=args.checkpoint,
                      check_images=args.check_images, tolerance=args.tolerance, verbose=verbose)


def _rebuild(args, verbose):
    from training.common.checkpoint_rebuild import rebuild_checkpoints
    from training.common.run_directory import RunDirectory

    for run_dir in args.run_dirs:
        experiment, _ = RunDirectory(run_dir).read_config()
        if experiment == "classification":
            from training.classification.job import run_classification

            rebuild_checkpoints(run_dir, lambda d: run_classification(
                None, d, resume=True, verbose=verbose), verbose)
            continue
        from training.detection.srf_stages import rebuild_detection_run

        rebuild_detection_run(run_dir, verbose)  # SRF-GAN stages: their sources first


def _pretrain_backbone(args, verbose):
    from training.detection.backbone_pretraining import BackbonePretrainingRecipe
    from training.detection.backbone_pretraining import ensure_pretrained_backbone
    from training.detection.backbone_pretraining import read_sidecar

    fields = {field.name for field in dataclasses.fields(BackbonePretrainingRecipe)}
    recipe = BackbonePretrainingRecipe(**{k: v for k, v in vars(args).items() if k in fields})
    path = ensure_pretrained_backbone(recipe, args.cache_dir, verbose=verbose, force=args.force)
    sidecar = read_sidecar(recipe, args.cache_dir)
    print(f"{path}\nhash {sidecar['hash']}  train accuracy {sidecar['train_accuracy']:.4f}  "
          f"val accuracy {sidecar['val_accuracy']:.4f}  ({sidecar['train_seconds']:.0f} s)")
    return path


COMMANDS = {"train": _train, "evaluate": _evaluate, "classify": _classify, "sweep": _sweep,
            "layout": _layout, "export": _export, "rebuild": _rebuild,
            "pretrain-backbone": _pretrain_backbone}


def main(argv=None):
    """Parses `argv`, runs the command, returns the exit code (2 on an error,
    printed as one line on stderr; `--debug` raises it instead)."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args, verbose=0 if args.quiet else 1)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as error:
        if args.debug:
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: resume with --resume RUN_DIR", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
