"""How a training run builds its model, saved in every checkpoint so evaluation and prediction rebuild the same one.

A torchvision checkpoint file carries no such record: it is taken to be torchvision's ResNet-50-FPN detector with
its defaults (Mask R-CNN, or Faster R-CNN when the file has no mask branch), the class count read from the file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Optional, Sequence, Union

from torchvision.models import WeightsEnum
from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights

from ..builders import BACKBONE_NAMES, DETECTOR_WEIGHTS, fpn_detector
from ..faster_rcnn import FasterRCNN, default_anchor_generator
from ..rpn.anchor_generator import AnchorGenerator
from ..weights import WeightsArg, fetch_file, resolve_weights

BACKBONES = BACKBONE_NAMES


@dataclass
class ModelConfig:
    """Arguments of :func:`maskrcnn.builders.fpn_detector`; the defaults are torchvision's
    ``maskrcnn_resnet50_fpn``."""
    num_classes: int = 91
    backbone: str = "resnet50"
    masks: bool = True
    #: a Keypoint R-CNN (no masks): torchvision's keypoint branch, ``num_keypoints`` per object
    keypoints: bool = False
    num_keypoints: int = 17
    #: "v1" (torchvision's maskrcnn_resnet50_fpn) or "v2" (maskrcnn_resnet50_fpn_v2's heads and batch norm)
    version: str = "v1"
    #: the short side; several (training draws one per image, evaluation takes the last): torchvision's rule
    min_size: Union[int, tuple[int, ...]] = 800
    max_size: int = 1333
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    box_batch_size_per_image: int = 512
    box_detections_per_img: int = 100
    trainable_backbone_layers: Optional[int] = None
    #: Widths of the FPN levels, the box head's two fully connected layers and the mask head's four convolutions.
    #: Narrower than torchvision's 256 / 1024 / 256 only for small problems (the built-in shapes demo).
    fpn_channels: int = 256
    box_representation_size: int = 1024
    mask_head_channels: int = 256
    #: A Keypoint R-CNN's head: the widths of its 3x3 convolutions (torchvision's: eight of 512).
    keypoint_head_layers: tuple[int, ...] = (512,) * 8
    #: training images come sized by the augmentation (multiscale, LSJ): the model does not resize them again
    skip_resize: bool = False
    #: The RPN's anchors on a ResNet-FPN: one size (pixels of the resized image) per level, P2 (stride 4) to P6
    #: (stride 64), and the aspect ratios (height / width) laid at every size. None: torchvision's (32 ... 512;
    #: 0.5, 1, 2), which suit COCO's objects at 800 px; small objects or a small --min-size may need smaller ones
    #: (``tools/eval.py --report`` measures how well they cover a dataset's boxes).
    anchor_sizes: Optional[tuple[int, ...]] = None
    aspect_ratios: Optional[tuple[float, ...]] = None

    def builder_kwargs(self) -> dict[str, Any]:
        values = asdict(self)
        values["backbone_name"] = values.pop("backbone")
        values["keypoint_head_layers"] = tuple(values["keypoint_head_layers"])
        if isinstance(values["min_size"], (list, tuple)):
            values["min_size"] = tuple(values["min_size"])
        if not values["keypoints"]:
            values.pop("num_keypoints")
            values.pop("keypoint_head_layers")
        sizes, ratios = values.pop("anchor_sizes"), values.pop("aspect_ratios")
        if sizes is not None or ratios is not None:
            values["rpn_anchor_generator"] = fpn_anchor_generator(sizes, ratios)
        if values.pop("skip_resize"):
            values["_skip_resize"] = True  # torchvision's name, passed through to GeneralizedRCNNTransform
        return values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def fpn_anchor_generator(sizes: Optional[Sequence[int]] = None, ratios: Optional[Sequence[float]] = None
                         ) -> AnchorGenerator:
    """A ResNet-FPN's anchor generator: ``sizes[k]`` on level k (five levels), every ratio at each; None keeps
    torchvision's."""
    default = default_anchor_generator()
    sizes = tuple((int(s),) for s in sizes) if sizes is not None else default.sizes
    ratios = tuple(float(r) for r in ratios) if ratios is not None else default.aspect_ratios[0]
    if len(sizes) != len(default.sizes):
        raise ValueError(f"anchor sizes: expected one per FPN level ({len(default.sizes)}), got {len(sizes)}")
    return AnchorGenerator(sizes, (ratios,) * len(sizes))


def build_model(config: ModelConfig, weights: WeightsArg = None, weights_backbone: WeightsArg = None) -> FasterRCNN:
    """The detector of ``config`` (plain modules: call :func:`maskrcnn.optimize` for the fast form).

    ``weights``: a detector file that fits it, or torchvision's published weights of that architecture (enum or
    name), which are then read as their cached file: unlike the builders, a ``config`` with another number of
    classes fine-tunes them (the class-specific layers start fresh). ``weights_backbone``: the backbone's ImageNet
    weights (enum, name or file)."""
    if config.backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {config.backbone!r}")
    published = KeypointRCNN_ResNet50_FPN_Weights if config.keypoints and config.backbone == "resnet50" else \
        DETECTOR_WEIGHTS.get((config.backbone, config.masks, config.version))
    weights = resolve_weights(weights, published)
    if isinstance(weights, WeightsEnum):
        weights = fetch_file(weights)
    return fpn_detector(weights=weights, weights_backbone=weights_backbone, **config.builder_kwargs())
