"""Train Mask R-CNN on COCO-2017 or on the built-in shapes dataset, on one process or many (torchrun).

    python tools/train.py                                   # built-in shapes, CPU-friendly recipe (~10 min)
    python tools/train.py --data coco2017 --weights-backbone DEFAULT
    torchrun --nproc_per_node=8 tools/train.py --data coco2017 --weights-backbone DEFAULT
    python tools/train.py --resume                          # continue result/checkpoints/last.pth

Writes result/checkpoints/{last,best,epoch_NNN}.pth and TensorBoard logs under result/logs/.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

import torch

import maskrcnn
from maskrcnn.builders import MOBILENET_NAMES, VERSIONS
from maskrcnn.checkpoint import CheckpointError, load_state_dict_into
from maskrcnn.engine import (
    BACKBONES,
    EpochSeededDataset,
    ModelConfig,
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    build_model,
    distributed,
    eval_loader,
    iterations_per_epoch,
    load_training_checkpoint,
    primary_ap,
    warmup_multistep_lr,
)
from maskrcnn.engine.recipes import RECIPES
from transforms import POLICIES, SIZED_BY_AUGMENTATION, augmented_dataset, eval_transforms, train_transforms

from _common import (
    DATASETS,
    UsageError,
    add_data_arguments,
    add_fast_mode_argument,
    check_fast_mode,
    data_name,
    explicit_files,
    make_parser,
    open_dataset,
    run,
)

#: The losses a Mask R-CNN computes; ``--loss-weights`` takes them with or without the ``loss_`` prefix.
LOSS_NAMES = ("loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg")

#: --model's choice for a Keypoint R-CNN (the others are Mask R-CNN versions).
KEYPOINT_MODEL = "keypoint"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(__doc__)
    add_data_arguments(parser)
    parser.add_argument("--weights", help="start from a Mask R-CNN: DEFAULT / COCO_V1 (torchvision's COCO model, "
                                          "downloaded once into torch.hub's cache) or a checkpoint file (torchvision's "
                                          "or ours); another number of classes fine-tunes")
    parser.add_argument("--weights-backbone", help="ImageNet weights of the backbone: DEFAULT, IMAGENET1K_V1, "
                                                   "IMAGENET1K_V2 (torchvision's, downloaded once) or a checkpoint file")
    parser.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                        help="continue a run (default: <output>/checkpoints/last.pth) with its settings")
    add_fast_mode_argument(parser)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, help="data loading processes per rank (recipe default)")
    parser.add_argument("--batch-size", type=int, help="images per rank per step (recipe default)")
    parser.add_argument("--epochs", type=int, help="(recipe default)")
    parser.add_argument("--lr", type=float, help="learning rate for the whole batch (default: the recipe's, "
                                                 "scaled linearly with the total batch for coco2017)")
    parser.add_argument("--model", choices=VERSIONS + (KEYPOINT_MODEL,),
                        help="v1: torchvision's maskrcnn_resnet50_fpn; v2: maskrcnn_resnet50_fpn_v2's heads and batch "
                             "norm; keypoint: Keypoint R-CNN (keypointrcnn_resnet50_fpn's heads) on a keypoint file "
                             "such as COCO's person_keypoints_*.json (default: keypoint for --data arrows, else v1)")
    parser.add_argument("--backbone", choices=BACKBONES, help="(recipe default)")
    parser.add_argument("--sync-bn", action="store_true", default=None,
                        help="synchronise batch norm across processes under torchrun (CUDA only; default: the "
                             "recipe's)")
    parser.add_argument("--augment", choices=POLICIES, help="training augmentation (recipe default)")
    parser.add_argument("--min-size", type=int, help="short side the model resizes to (recipe default)")
    parser.add_argument("--max-size", type=int, help="long side limit (recipe default)")
    parser.add_argument("--anchor-sizes", type=int, nargs=5, metavar="PX",
                        help="the RPN's anchor size on each FPN level, P2 to P6, in pixels of the resized image "
                             "(default: torchvision's 32 64 128 256 512; eval.py --report suggests sizes that fit "
                             "your objects)")
    parser.add_argument("--aspect-ratios", type=float, nargs="+", metavar="H/W",
                        help="the anchors' aspect ratios, height / width (default: 0.5 1 2)")
    parser.add_argument("--keep-empty", action="store_true", help="train on images without objects too")
    parser.add_argument("--skip-bad-images", action="store_true",
                        help="leave out images that are missing, corrupt or not the size the JSON says")
    parser.add_argument("--save-every", type=int, help="also write last.pth every N steps (recipe default)")
    parser.add_argument("--eval-every", type=int, metavar="N",
                        help="evaluate after every N-th epoch and after the last (recipe default)")
    parser.add_argument("--loss-weights", nargs="+", metavar="NAME=W", default=[],
                        help="scale losses, e.g. mask=2 box_reg=0.5 (names: "
                             + ", ".join(n.removeprefix("loss_") for n in LOSS_NAMES) + ")")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="result", help="folder for checkpoints/ and logs/ (default: result)")
    return parser


def options_given(parser: argparse.ArgumentParser, argv: Optional[list[str]]) -> set[str]:
    """The options the command line sets, by destination (one given with its default value counts): parsed again
    into a namespace whose every option starts at a marker, which argparse leaves where nothing was given."""
    unset = object()
    probe = argparse.Namespace(**{dest: unset for dest in vars(parser.parse_args([]))})
    parser.parse_args(argv, namespace=probe)
    return {dest for dest, value in vars(probe).items() if value is not unset}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    """Command line over recipe defaults; with --resume, over the resumed run's own settings."""
    parser = build_parser()
    args = parser.parse_args(argv)
    explicit = options_given(parser, argv)
    if args.resume:
        path = (os.path.join(args.output, "checkpoints", "last.pth") if args.resume == "auto" else args.resume)
        try:
            checkpoint = load_training_checkpoint(path)
        except CheckpointError as error:
            raise UsageError(f"--resume: {error} (--weights FILE)") from None
        saved = dict(checkpoint.get("args", {}))
        for name in explicit - {"resume"}:
            saved[name] = getattr(args, name)
        args = argparse.Namespace(**{**vars(args), **saved})
        args.resume, args.checkpoint = path, checkpoint
    else:
        args.checkpoint = None
    if args.model is None:
        args.model = KEYPOINT_MODEL if args.data == "arrows" and not explicit_files(args) else "v1"
    args.keypoints = args.model == KEYPOINT_MODEL  # --data coco2017: its person keypoint files
    args.recipe = recipe_for(args)
    recipe = RECIPES[args.recipe]
    for name in ("backbone", "epochs", "batch_size", "augment", "min_size", "max_size", "workers", "save_every",
                 "eval_every"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(recipe, name))
    if args.lr is None:
        args.lr = recipe.learning_rate(args.batch_size * max(distributed.world_size(),
                                                             int(os.environ.get("WORLD_SIZE", 1))))
    for name in ("epochs", "batch_size", "eval_every"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {args.workers}")
    args.loss_weight_values = parse_loss_weights(args.loss_weights)
    check_anchors(args)
    check_fast_mode(args.fast_mode, args.device)
    return args


def check_anchors(args: argparse.Namespace) -> None:
    if args.anchor_sizes is None and args.aspect_ratios is None:
        return
    if args.backbone in MOBILENET_NAMES:
        raise UsageError(f"--anchor-sizes and --aspect-ratios are for ResNet-FPN backbones; {args.backbone} keeps "
                         f"torchvision's MobileNet anchors")
    for name, values in (("anchor-sizes", args.anchor_sizes), ("aspect-ratios", args.aspect_ratios)):
        if values is not None and not all(v > 0 for v in values):
            raise UsageError(f"--{name}: expected positive numbers, got {' '.join(str(v) for v in values)}")


def use_sync_bn(args: argparse.Namespace, device: torch.device, main_process: bool) -> bool:
    """SyncBN where the recipe or --sync-bn asks for it and it can run: several processes, on CUDA (PyTorch's
    SyncBatchNorm synchronises GPU tensors only)."""
    asked = args.sync_bn if args.sync_bn is not None else RECIPES[args.recipe].sync_bn
    if not asked or not distributed.is_distributed():
        return False
    if device.type != "cuda":
        if args.sync_bn:
            raise UsageError(f"--sync-bn needs CUDA devices (PyTorch's SyncBatchNorm synchronises GPU tensors "
                             f"only), got {device}")
        if main_process:
            print(f"the recipe's SyncBN is skipped on {device}: batch norm stays per process")
        return False
    return True


def recipe_for(args: argparse.Namespace) -> str:
    """The named datasets have their recipe; a user's own data trains from scratch, or fine-tunes --weights."""
    if args.data == "coco2017" and not explicit_files(args):
        return {"v2": "coco2017-v2", KEYPOINT_MODEL: "coco2017-keypoints"}.get(args.model, "coco2017")
    if args.data in DATASETS and not explicit_files(args):
        return args.data
    return "finetune" if args.weights else "scratch"


def size_text(min_size) -> str:
    """``800`` or, for several sizes, ``640-800``."""
    return f"{min(min_size)}-{max(min_size)}" if isinstance(min_size, (list, tuple)) else str(min_size)


def parse_loss_weights(items: list[str]) -> dict[str, float]:
    """``["mask=2", "loss_box_reg=0.5"]`` -> ``{"loss_mask": 2.0, "loss_box_reg": 0.5}``."""
    weights = {}
    for item in items:
        name, _, value = item.partition("=")
        full = name if name.startswith("loss_") else f"loss_{name}"
        if full not in LOSS_NAMES:
            raise UsageError(f"--loss-weights: unknown loss {name!r}; expected one of "
                             f"{', '.join(n.removeprefix('loss_') for n in LOSS_NAMES)}")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not weight >= 0:
            raise UsageError(f"--loss-weights: expected NAME=WEIGHT with a weight >= 0, got {item!r}")
        weights[full] = weight
    return weights


def saved_args(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("checkpoint", "resume", "loss_weight_values")}


def make_optimizer(args: argparse.Namespace, model: torch.nn.Module) -> torch.optim.Optimizer:
    recipe = RECIPES[args.recipe]
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=recipe.weight_decay)
    return torch.optim.AdamW(params, lr=args.lr, weight_decay=recipe.weight_decay)


def tensorboard_preview(writer, class_names):
    """Draws a few validation predictions into TensorBoard after each evaluation."""
    from visualization import draw_prediction

    def preview(kept: list, step: int) -> None:
        for i, (image, output) in enumerate(kept):
            drawn = draw_prediction(image, output, class_names, score_thresh=0.5)
            writer.add_image(f"val/prediction_{i}", drawn, step, dataformats="HWC")
    return preview


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    device = distributed.init_distributed(args.device)
    main_process = distributed.is_main_process()
    recipe = RECIPES[args.recipe]
    torch.manual_seed(args.seed)

    if not main_process:  # rank 0 generates the built-in set if needed; the others wait for it
        distributed.barrier()
    train_set = open_dataset(args, "train", train_transforms(args.augment), filter_empty=not args.keep_empty,
                             skip_bad_images=args.skip_bad_images)
    if args.model == KEYPOINT_MODEL and getattr(train_set, "keypoint_names", None) is None:
        raise UsageError(f"--model keypoint: {train_set.ann_file} has no keypoints (a keypoint file names them in its "
                         f"category, as COCO's person_keypoints_*.json does)")
    if args.model == KEYPOINT_MODEL and args.augment == "copypaste":
        raise UsageError("--model keypoint: copy-paste does not carry keypoints; use --augment hflip, multiscale or "
                         "lsj")
    train_set = augmented_dataset(train_set, args.augment)
    val_set = open_dataset(args, "val", eval_transforms(), skip_bad_images=args.skip_bad_images, required=False)
    if main_process:
        distributed.barrier()

    if args.checkpoint is not None:
        config = ModelConfig.from_dict(args.checkpoint["model_config"])
        model = build_model(config)
        load_state_dict_into(model, args.checkpoint["model"], args.resume)
    else:
        keypoints = args.model == KEYPOINT_MODEL
        config = recipe.model_config(train_set.num_classes, args.backbone, "v1" if keypoints else args.model,
                                     args.min_size, args.max_size, skip_resize=args.augment in SIZED_BY_AUGMENTATION)
        if keypoints:
            config.masks, config.keypoints, config.num_keypoints = False, True, len(train_set.keypoint_names)
        config.anchor_sizes = tuple(args.anchor_sizes) if args.anchor_sizes else None
        config.aspect_ratios = tuple(args.aspect_ratios) if args.aspect_ratios else None
        model = build_model(config, args.weights, args.weights_backbone)
    model.loss_weights = args.loss_weight_values
    maskrcnn.optimize(model)  # the fast form: same parameters and state_dict, fused arithmetic
    model.to(device)
    if use_sync_bn(args, device, main_process):
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if distributed.is_distributed():
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    optimizer = make_optimizer(args, model)
    per_epoch = iterations_per_epoch(len(train_set), args.batch_size)
    # the warm-up ends within the first epoch (torchvision's tutorial does so too): a small dataset has short epochs
    scheduler = warmup_multistep_lr(optimizer, per_epoch, list(recipe.milestones),
                                    warmup_iters=min(recipe.warmup_iters, max(1, per_epoch - 1)),
                                    warmup_factor=recipe.warmup_factor)
    writer = None
    if main_process:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(os.path.join(args.output, "logs"))
        print(f"recipe: {recipe.description}")
        print(f"training on {len(train_set)} {data_name(args)} images ({train_set.categories.num_categories} "
              f"classes), {config.backbone}-FPN at {size_text(config.min_size)} px, {args.epochs} epochs, batch "
              f"{args.batch_size} x {distributed.world_size()}, lr {args.lr:g}, device {device}")
        if val_set is None:
            print("no validation split (--val-ann / --val-images, or annotations/instances_val*.json): training runs "
                  "without evaluation, and best.pth is not written")
    train_config = TrainConfig(epochs=args.epochs, output=args.output, device=device, batch_size=args.batch_size,
                               seed=args.seed, workers=args.workers, fast_mode=args.fast_mode,
                               save_every=args.save_every, eval_every=args.eval_every,
                               checkpoint_extras={"args": saved_args(args), "model_config": config.to_dict(),
                                                  "class_names": train_set.class_names,
                                                  "categories": train_set.categories.to_dict()})
    trainer = Trainer(model, optimizer, scheduler, EpochSeededDataset(train_set, args.seed), train_config,
                      val_loader=eval_loader(val_set, args.batch_size, args.workers) if val_set is not None else None,
                      writer=writer, preview=tensorboard_preview(writer, train_set.class_names) if writer else None)
    if args.checkpoint is not None:
        trainer.resume_from(args.checkpoint)
        if main_process:
            print(f"resumed {args.resume}: epoch {trainer.state.epoch + 1}, iteration {trainer.state.iteration}")
    try:
        outcome = trainer.fit()
    except NonFiniteLossError as error:
        print(f"error: {error}; --lr sets it", file=sys.stderr)
        return 3
    finally:
        if writer is not None:
            writer.close()
        distributed.shutdown()
    checkpoints = os.path.join(args.output, "checkpoints")
    if outcome == "interrupted":
        if main_process:
            print(f"interrupted at iteration {trainer.state.iteration}: wrote {checkpoints}/last.pth; continue "
                  f"with: python tools/train.py --resume --output {args.output}", file=sys.stderr)
        return 130
    if main_process:
        metrics = trainer.state.metrics
        summary = "not evaluated"
        if metrics:
            iou_type, _ = primary_ap(metrics)
            summary = (f"bbox AP {metrics['bbox']['AP']:.3f}"
                       + "".join(f", {kind} AP {metrics[kind]['AP']:.3f}" for kind in ("segm", "keypoints")
                                 if kind in metrics)
                       + f" (AP50 {metrics[iou_type]['AP50']:.3f})")
        print(f"done: {trainer.state.iteration} iterations; {summary}; checkpoints in {checkpoints}")
    return 0


if __name__ == "__main__":
    run(main)
