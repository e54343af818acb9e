"""Training recipes: the defaults of a run (model size, schedule, optimiser, augmentation) by name.

``coco2017`` is torchvision's reference Mask R-CNN recipe (26 epochs, 37.9 box / 34.6 mask AP with an ImageNet
backbone) and ``coco2017-v2`` its v2 recipe; ``shapes`` trains a small model from scratch in minutes on a CPU, and
``arrows`` a small Keypoint R-CNN on the built-in keypoint set; a
user's own data trains with ``scratch`` (the shapes recipe, with the data's classes) or, from a detector's weights,
``finetune`` (torchvision's fine-tuning tutorial). ``tools/train.py`` fills every option left unset from its recipe.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

from ..keypoint_rcnn import KEYPOINT_MIN_SIZES
from .model_config import ModelConfig


@dataclass(frozen=True)
class Recipe:
    description: str
    backbone: str
    epochs: int
    batch_size: int
    #: the learning rate for a total batch of ``lr_batch`` images (scaled linearly with the batch), or as is if None
    lr: float
    lr_batch: Optional[int]
    optimizer: str  # "sgd" (momentum 0.9) or "adamw"
    weight_decay: float
    #: epochs after which the learning rate is divided by 10; warm-up steps and starting factor
    milestones: tuple[int, ...]
    warmup_iters: int
    warmup_factor: float
    augment: str
    #: the short side; several: one drawn per image in training, the last at test time (torchvision's rule)
    min_size: Union[int, tuple[int, ...]]
    max_size: int
    #: RPN proposals kept before and after NMS, in training and at test time
    rpn_train: tuple[int, int]
    rpn_test: tuple[int, int]
    rois_per_image: int
    detections: int
    #: widths of the FPN, the box head's representation and the mask head's convolutions
    widths: tuple[int, int, int]
    workers: int
    save_every: int
    eval_every: int
    sync_bn: bool = False
    #: a Keypoint R-CNN's head convolutions (torchvision's: eight of 512)
    keypoint_layers: tuple[int, ...] = (512,) * 8

    def learning_rate(self, total_batch: int) -> float:
        return self.lr * (total_batch / self.lr_batch if self.lr_batch else 1.0)

    def model_config(self, num_classes: int, backbone: str, version: str, min_size: Union[int, tuple[int, ...]],
                     max_size: int,
                     skip_resize: bool = False) -> ModelConfig:
        """The detector this recipe trains, for ``num_classes`` and the run's backbone, version and sizes."""
        return ModelConfig(num_classes=num_classes, backbone=backbone, version=version, skip_resize=skip_resize,
                           min_size=min_size, max_size=max_size, rpn_pre_nms_top_n_train=self.rpn_train[0],
                           rpn_post_nms_top_n_train=self.rpn_train[1], rpn_pre_nms_top_n_test=self.rpn_test[0],
                           rpn_post_nms_top_n_test=self.rpn_test[1], box_batch_size_per_image=self.rois_per_image,
                           box_detections_per_img=self.detections, fpn_channels=self.widths[0],
                           box_representation_size=self.widths[1], mask_head_channels=self.widths[2],
                           keypoint_head_layers=self.keypoint_layers)


COCO = Recipe(
    description="torchvision's COCO recipe", backbone="resnet50", epochs=26, batch_size=2, lr=0.02, lr_batch=16,
    optimizer="sgd", weight_decay=1e-4, milestones=(16, 22), warmup_iters=1000, warmup_factor=1e-3, augment="hflip",
    min_size=800, max_size=1333, rpn_train=(2000, 2000), rpn_test=(1000, 1000), rois_per_image=512, detections=100,
    widths=(256, 1024, 256), workers=4, save_every=1000, eval_every=1)

# ResNet-18 at 128 px with narrower heads (FPN 128, box MLP 256, mask convs 64 wide instead of 256/1024/256): the
# shapes are simple and 28-64 px, and on 2 cores the heads, not the backbone, cost most of a step at full width. Once
# the proposals are good, each image has 16 positive RoIs, and the mask head's four 3x3 convs on them are the largest
# cost of a step: 64 wide rather than 128, a step takes ~0.3 s instead of ~0.4 s on 2 cores, so eight epochs (1600
# steps) and four evaluations (every second epoch, ~8 s each) fit in about nine minutes. Fewer proposals and RoIs
# than COCO's (few objects per image). The last epoch at a tenth of the learning rate. docs/tools.md gives the mask AP
# over seeds.
SHAPES = Recipe(
    description="the built-in set's CPU recipe", backbone="resnet18", epochs=8, batch_size=2, lr=1e-3, lr_batch=None,
    optimizer="adamw", weight_decay=1e-4, milestones=(7,), warmup_iters=50, warmup_factor=0.01, augment="hflip",
    min_size=128, max_size=192, rpn_train=(600, 300), rpn_test=(300, 150), rois_per_image=64, detections=25,
    widths=(128, 256, 64), workers=1, save_every=0, eval_every=2)

RECIPES: dict[str, Recipe] = {
    "coco2017": COCO,
    # torchvision's v2 recipe (pytorch/vision#5773: 47.4 box / 41.8 mask AP): 400 epochs from scratch-initialised
    # heads on an ImageNet backbone, LSJ at 1024 px, SGD lr 0.1 for a total batch of 64 (32 GPUs x 2; scaled linearly
    # here), x0.1 at epochs 352 and 384, weight decay 4e-5, SyncBN. Taken as is; the warm-up is torchvision's
    # detection default (1000 steps in the first epoch).
    "coco2017-v2": dataclasses.replace(
        COCO, description="torchvision's v2 COCO recipe (400 epochs, LSJ, SGD lr 0.1 per 64 images, weight decay "
                          "4e-5, SyncBN on GPUs)",
        epochs=400, lr=0.1, lr_batch=64, weight_decay=4e-5, milestones=(352, 384), augment="lsj", sync_bn=True),
    # torchvision's keypoint reference (pytorch/vision references/detection: --dataset coco_kp --epochs 46
    # --lr-steps 36 43, lr 0.02 per 16 images): COCO's person keypoint files, training at keypointrcnn_resnet50_fpn's
    # own sizes (a short side of 640-800 drawn per image), tested at 800.
    "coco2017-keypoints": dataclasses.replace(
        COCO, description="torchvision's keypoint recipe (person_keypoints files, 46 epochs, x0.1 at 36 and 43, "
                          "short side 640-800 in training)",
        epochs=46, milestones=(36, 43), min_size=KEYPOINT_MIN_SIZES),
    "shapes": SHAPES,
    # The built-in keypoint set: the shapes recipe with a Keypoint R-CNN head of four 3x3 convolutions 64 wide
    # (torchvision's eight of 512 cost ~25x more per RoI; arrows' four points need far less than people's 17).
    "arrows": dataclasses.replace(
        SHAPES, description="the built-in arrows' CPU recipe (the shapes recipe; keypoint head 4 x 64)",
        keypoint_layers=(64,) * 4),
    "scratch": dataclasses.replace(
        SHAPES, description="from scratch: the built-in set's CPU recipe with this data's classes (ResNet-18-FPN at "
                            "128 px, narrow heads, AdamW; a larger min_size and backbone for larger or harder objects)"),
    # torchvision's fine-tuning tutorial (Mask R-CNN from the COCO file on PennFudan): SGD lr 0.005, momentum 0.9,
    # weight decay 5e-4, batch 2, lr x0.1 every 3 epochs, a warm-up within the first epoch, horizontal flips, and the
    # COCO model's sizes (800 / 1333, full-width heads, all of the file's weights but the class-specific layers).
    # 10 epochs: the tutorial's first version; its current one trains 2 to stay short, too few for most datasets.
    "finetune": dataclasses.replace(
        COCO, description="fine-tuning a detector's weights: torchvision's fine-tuning tutorial (SGD lr 0.005, "
                          "momentum 0.9, weight decay 5e-4, lr x0.1 every 3 epochs, batch 2, 800 px)",
        epochs=10, lr=0.005, lr_batch=None, weight_decay=5e-4, milestones=(3, 6, 9), workers=2, save_every=0),
}
