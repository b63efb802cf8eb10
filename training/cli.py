"""`python -m training`: train, evaluate, sweep (and classify, when present).

    python -m training train --data embedded --model resolution --hinge-weight 1e-3
    python -m training train --resume runs/detection
    python -m training evaluate runs/detection
    python -m training sweep --table1 --data embedded --seeds 0 1 2
"""

import argparse
import dataclasses
import sys

from training.detection.job import DetectionJobConfig


def _add_detection_options(parser):
    defaults = DetectionJobConfig()
    parser.add_argument("--data", default=defaults.data,
                        help="'embedded' (generated offline, default), 'voc2007' "
                             "(tensorflow-datasets) or a VOCdevkit directory")
    parser.add_argument("--image-size", type=int, help="model input side (divisible by 32)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--final-learning-rate", type=float)
    parser.add_argument("--optimizer", choices=("sgd", "adam"))
    parser.add_argument("--global-clipnorm", type=float, default=defaults.global_clipnorm)
    freeze = parser.add_mutually_exclusive_group()
    freeze.add_argument("--freeze-backbone", dest="freeze_backbone", action="store_true", default=None)
    freeze.add_argument("--train-backbone", dest="freeze_backbone", action="store_false")
    parser.add_argument("--backbone", default=defaults.backbone, help="yolo_v8_xs or resnet50")
    parser.add_argument("--weights", help="backbone weights: preset name or file")
    parser.add_argument("--fpn-depth", type=int, default=defaults.fpn_depth)
    parser.add_argument("--transform", default=defaults.transform, choices=("dct", "dft"))
    parser.add_argument("--taper", type=float, default=defaults.taper,
                        help="taper length of the Resolution layers (paper: 4)")
    parser.add_argument("--scale-learning-rate-factor", type=float,
                        help="learning rate of the Resolution scales over the weights' "
                             "(default: 0.1 on the embedded data, 1 on VOC)")
    parser.add_argument("--complexity-cap", type=float,
                        help="PANet complexity cap (default: the baseline's)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--eval-every", type=int, help="epochs between mAP evaluations")
    parser.add_argument("--eval-confidence", type=float, default=defaults.eval_confidence,
                        help="NMS confidence threshold used for evaluation")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="also checkpoint every N batches (0: at epoch ends only)")
    parser.add_argument("--strategy", choices=("mirrored",),
                        help="tf.distribute strategy over the visible devices")
    parser.add_argument("--max-train-images", type=int)
    parser.add_argument("--max-eval-images", type=int)


def _config_from(args, **overrides):
    fields = {field.name for field in dataclasses.fields(DetectionJobConfig)}
    values = {key: value for key, value in vars(args).items() if key in fields}
    values.update(overrides)
    return DetectionJobConfig(**values)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Resolution layers in YOLOv8: train, evaluate and sweep.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train and evaluate one detector")
    _add_detection_options(train)
    train.add_argument("--model", default="resolution", choices=("resolution", "baseline"))
    train.add_argument("--hinge-weight", type=float, default=1e-3,
                       help="lambda of the hinge penalty max(0, C_PAN - cap) "
                            "(default 1e-3, the middle value of the paper's Table 1)")
    train.add_argument("--run-dir", default="runs/detection")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run from its last checkpoint")

    evaluate = commands.add_parser("evaluate", help="mAP@0.5 of a run's best checkpoint")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", help="evaluate on other data (same split names)")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best")

    sweep = commands.add_parser("sweep", help="the paper's Table 1 (or Figure 3) sweep")
    which = sweep.add_mutually_exclusive_group(required=True)
    which.add_argument("--table1", action="store_true",
                       help="baseline and resolution with hinge weights 0, 1e-3, 1e-2")
    which.add_argument("--figure3", action="store_true",
                       help="classification: fixed, DCT and DFT across budgets")
    _add_detection_options(sweep)
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0])
    sweep.add_argument("--hinge-weights", type=float, nargs="+", default=[0.0, 1e-3, 1e-2])
    sweep.add_argument("--sweep-dir", default="runs/table1")

    classification = _classification_cli()
    if classification is not None:
        classification.add_classify_parser(commands)
        classification.add_figure3_arguments(sweep)
    return parser


def _classification_cli():
    try:
        from training.classification import cli
    except ImportError:
        return None
    return cli


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from training.detection.job import train_detection

        if args.resume:
            config = DetectionJobConfig(run_dir=args.resume)
            train_detection(config, resume=True)
        else:
            train_detection(_config_from(args))
    elif args.command == "evaluate":
        from training.detection.job import evaluate_run

        evaluate_run(args.run_dir, data=args.data, checkpoint=args.checkpoint)
    elif args.command == "sweep" and args.table1:
        from training.detection.table1 import run_table1

        run_table1(_config_from(args), args.seeds, args.hinge_weights, args.sweep_dir)
    elif args.command == "sweep" and args.figure3:
        _classification_cli().run_figure3_sweep(args)
    elif args.command == "classify":
        _classification_cli().run_classify(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
