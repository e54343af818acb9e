"""Builder functions with torchvision's names, signatures and defaults (``weights_backbone`` included).

:func:`fpn_detector` is the one builder: a ResNet of any depth or a MobileNetV3 under an FPN, with or without masks,
torchvision's head widths or narrower ones. ``maskrcnn_resnet50_fpn``, ``fasterrcnn_mobilenet_v3_large_fpn`` and the
others are it with torchvision's names and defaults; ``maskrcnn_mobilenet_v3_large_fpn`` (and ``_320_fpn``) are ours:
torchvision's MobileNet Faster R-CNN with the Mask R-CNN mask branch. ``weights`` / ``weights_backbone`` take what
:mod:`maskrcnn.weights` describes: torchvision's enums or their names (downloaded into torch.hub's cache, as
torchvision does), checkpoint files, or None.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from torch import nn
from torchvision.models import MobileNet_V3_Large_Weights, ResNet50_Weights, WeightsEnum
from torchvision.models.detection import (
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights,
    FasterRCNN_ResNet50_FPN_V2_Weights,
    FasterRCNN_ResNet50_FPN_Weights,
    KeypointRCNN_ResNet50_FPN_Weights,
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
)

from .backbone import mobilenet_v3 as mobilenet_module
from .backbone import resnet as resnet_module
from .backbone.backbone_with_fpn import RESNET_NAMES, RESNET_STAGES, resnet_fpn_extractor, validate_trainable_layers
from .backbone.mobilenet_fpn import MOBILENET_NAMES, mobilenet_extractor
from .checkpoint import (
    DETECTOR_CLASS_SPECIFIC,
    CheckpointError,
    is_coco_v1_file,
    load_state_dict_into,
    num_classes_in_state_dict,
    set_frozen_batch_norm_eps,
)
from .faster_rcnn import BOX_POOL_SIZE, REPRESENTATION_SIZE, FasterRCNN, default_anchor_generator
from .keypoint_rcnn import COCO_NUM_KEYPOINTS, KeypointRCNN
from .mask_rcnn import MASK_HEAD_LAYERS, MaskRCNN
from .ops.frozen_batch_norm import FrozenBatchNorm2d
from .roi_heads import FastRCNNConvFCHead, FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor, TwoMLPHead
from .roi_heads.keypoint_head import KEYPOINT_HEAD_LAYERS, KeypointRCNNHeads, KeypointRCNNPredictor
from .rpn import AnchorGenerator, RPNHead
from .weights import (
    BACKBONE_WEIGHTS,
    WeightsArg,
    cached_file,
    legacy_interface,
    overwrite_num_classes,
    read_weights,
    resolve_weights,
    weights_name,
)

#: COCO's 80 categories keep their original ids 1..90 (with gaps), plus background 0.
COCO_NUM_CLASSES = 91
#: Keypoint R-CNN: person and background.
KEYPOINT_NUM_CLASSES = 2
#: Backbone stages trained by default when starting from pretrained weights (layer2..layer4).
DEFAULT_TRAINABLE_BACKBONE_LAYERS = 3
#: The backbones :func:`fpn_detector` builds.
BACKBONE_NAMES = RESNET_NAMES + MOBILENET_NAMES
#: MobileNet backbones: stages the extractor can train, of which 3 by default from pretrained weights (as ResNet's).
MOBILENET_STAGES = 6
#: The published detector weights of each architecture: (backbone, masks, version) -> torchvision's enum.
DETECTOR_WEIGHTS: dict[tuple[str, bool, str], type[WeightsEnum]] = {
    ("resnet50", True, "v1"): MaskRCNN_ResNet50_FPN_Weights,
    ("resnet50", False, "v1"): FasterRCNN_ResNet50_FPN_Weights,
    ("resnet50", True, "v2"): MaskRCNN_ResNet50_FPN_V2_Weights,
    ("resnet50", False, "v2"): FasterRCNN_ResNet50_FPN_V2_Weights,
    ("mobilenet_v3_large", False, "v1"): FasterRCNN_MobileNet_V3_Large_FPN_Weights,
}
#: torchvision's MobileNet detectors: RPN proposals scoring under this are dropped (ResNet's keep all).
MOBILENET_RPN_SCORE_THRESH = 0.05
#: The low-resolution variant's settings (``*_mobilenet_v3_large_320_fpn``).
MOBILENET_320_SETTINGS = {"min_size": 320, "max_size": 640, "rpn_pre_nms_top_n_test": 150,
                          "rpn_post_nms_top_n_test": 150}
#: torchvision's widths: FPN channels, the box head's representation, the mask head's convolutions.
FPN_CHANNELS, MASK_HEAD_CHANNELS = 256, MASK_HEAD_LAYERS[-1]
VERSIONS = ("v1", "v2")
#: v2: convolutions of the box head, and of the RPN head.
V2_BOX_CONV_LAYERS = (256, 256, 256, 256)
V2_RPN_CONV_DEPTH = 2
#: A key only each version's state_dict has (their box heads differ).
VERSION_KEYS = {"v1": "roi_heads.box_head.fc6.weight", "v2": "roi_heads.box_head.0.0.weight"}


def state_dict_version(state_dict: dict) -> Optional[str]:
    """"v1" or "v2" for a detector's state_dict, by its box head; None if it has neither."""
    return next((version for version, key in VERSION_KEYS.items() if key in state_dict), None)


def mobilenet_anchor_generator() -> AnchorGenerator:
    """torchvision's MobileNet detectors: all five sizes (32..512) on each of the three levels, three ratios each."""
    sizes = ((32, 64, 128, 256, 512),) * 3
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def narrow_heads(num_classes: int, masks: bool, fpn_channels: int, box_representation_size: int,
                 mask_head_channels: int) -> dict[str, nn.Module]:
    """Box (and mask) heads and predictors of other widths than torchvision's, for constructor injection; empty
    when the widths are torchvision's (the detector then builds its defaults, in torchvision's seeded order)."""
    if (box_representation_size, mask_head_channels) == (REPRESENTATION_SIZE, MASK_HEAD_CHANNELS):
        return {}
    heads: dict[str, nn.Module] = {
        "box_head": TwoMLPHead(fpn_channels * BOX_POOL_SIZE ** 2, box_representation_size),
        "box_predictor": FastRCNNPredictor(box_representation_size, num_classes)}
    if masks:
        layers = (mask_head_channels,) * len(MASK_HEAD_LAYERS)
        heads["mask_head"] = MaskRCNNHeads(fpn_channels, layers, dilation=1)
        heads["mask_predictor"] = MaskRCNNPredictor(layers[-1], mask_head_channels, num_classes)
    return heads


def v2_heads(num_anchors: int, masks: bool, fpn_channels: int, box_representation_size: int,
             mask_head_channels: int) -> dict[str, nn.Module]:
    """v2's RPN, box and mask heads, built in torchvision's order (seeded models draw the same numbers)."""
    heads: dict[str, nn.Module] = {
        "rpn_head": RPNHead(fpn_channels, num_anchors, conv_depth=V2_RPN_CONV_DEPTH),
        "box_head": FastRCNNConvFCHead((fpn_channels, BOX_POOL_SIZE, BOX_POOL_SIZE), V2_BOX_CONV_LAYERS,
                                       [box_representation_size], norm_layer=nn.BatchNorm2d)}
    if masks:
        heads["mask_head"] = MaskRCNNHeads(fpn_channels, (mask_head_channels,) * len(MASK_HEAD_LAYERS), 1,
                                           norm_layer=nn.BatchNorm2d)
    return heads


def v2_predictors(num_classes: int, masks: bool, box_representation_size: int,
                  mask_head_channels: int) -> dict[str, nn.Module]:
    """Predictors as wide as narrower v2 heads (none for torchvision's widths: the detector builds its defaults);
    the mask predictor first, as the detector would."""
    if (box_representation_size, mask_head_channels) == (REPRESENTATION_SIZE, MASK_HEAD_CHANNELS):
        return {}
    predictors: dict[str, nn.Module] = {}
    if masks:
        predictors["mask_predictor"] = MaskRCNNPredictor(mask_head_channels, mask_head_channels, num_classes)
    predictors["box_predictor"] = FastRCNNPredictor(box_representation_size, num_classes)
    return predictors


def feature_extractor(backbone_name: str, version: str, is_trained: bool, weights_backbone: Any, progress: bool,
                      trainable_backbone_layers: Optional[int], fpn_channels: int) -> nn.Module:
    """The backbone under its FPN: batch norm frozen when starting from weights (v1), stages frozen as torchvision
    decides (:func:`validate_trainable_layers`)."""
    norm_layer = FrozenBatchNorm2d if is_trained and version == "v1" else nn.BatchNorm2d
    if backbone_name in MOBILENET_NAMES:
        trainable = validate_trainable_layers(is_trained, trainable_backbone_layers, MOBILENET_STAGES,
                                              DEFAULT_TRAINABLE_BACKBONE_LAYERS)
        network = getattr(mobilenet_module, backbone_name)(weights=weights_backbone, progress=progress,
                                                           norm_layer=norm_layer)
        return mobilenet_extractor(network, True, trainable, out_channels=fpn_channels)
    trainable = validate_trainable_layers(is_trained, trainable_backbone_layers, len(RESNET_STAGES),
                                          DEFAULT_TRAINABLE_BACKBONE_LAYERS)
    network = getattr(resnet_module, backbone_name)(weights=weights_backbone, progress=progress,
                                                    norm_layer=norm_layer)
    return resnet_fpn_extractor(network, trainable, norm_layer=nn.BatchNorm2d if version == "v2" else None,
                                out_channels=fpn_channels)


def fpn_detector(*, backbone_name: str = "resnet50", masks: bool = True, version: str = "v1",
                 keypoints: bool = False,
                 weights: WeightsArg = None, weights_backbone: WeightsArg = None, progress: bool = True,
                 num_classes: Optional[int] = None, trainable_backbone_layers: Optional[int] = None,
                 fpn_channels: int = FPN_CHANNELS, box_representation_size: int = REPRESENTATION_SIZE,
                 mask_head_channels: int = MASK_HEAD_CHANNELS,
                 keypoint_head_layers: Sequence[int] = KEYPOINT_HEAD_LAYERS,
                 weights_class: Optional[type[WeightsEnum]] = None, **kwargs: Any) -> FasterRCNN:
    """Mask R-CNN (``masks=True``) or Faster R-CNN on a ResNet-FPN (any depth, v1 or v2) or MobileNetV3-FPN (v1).

    ``weights``: torchvision's detector weights of this architecture (an enum of ``weights_class``, by default the
    one :data:`DETECTOR_WEIGHTS` names, or a member's name) or a checkpoint file (torchvision's or ours) of the same
    version (a file of the other one is a :class:`CheckpointError` saying so). ``num_classes`` defaults to the
    weights' (or 91); with a file a different value keeps every weight but the class-specific predictor layers
    (fine-tuning). ``weights_backbone``: the backbone's ImageNet weights (enum, name or file). With either,
    ``trainable_backbone_layers`` defaults to 3 and, in v1, batch norm is frozen (``FrozenBatchNorm2d``); without,
    all layers train. The widths default to torchvision's (256 / 1024 / 256; v2's box head convolutions are always
    256 wide). MobileNet backbones use torchvision's anchors (five sizes on each of three levels) and drop RPN
    proposals scoring under 0.05. ``keypoints=True`` builds a Keypoint R-CNN instead (no masks; ``num_classes``
    defaults to 2, person and background, and ``num_keypoints`` to the weights' or 17; ``keypoint_head_layers`` are
    the widths of its head's 3x3 convolutions, torchvision's eight of 512 by default). ``kwargs`` go to the
    detector. Nothing is downloaded unless an enum asks for it.
    """
    if backbone_name not in BACKBONE_NAMES:
        raise ValueError(f"backbone_name must be one of {', '.join(BACKBONE_NAMES)}, got {backbone_name!r}")
    if version not in VERSIONS or (version == "v2" and backbone_name in MOBILENET_NAMES):
        allowed = ("v1",) if backbone_name in MOBILENET_NAMES else VERSIONS
        raise ValueError(f"version must be one of {', '.join(allowed)} for {backbone_name}, got {version!r}")
    weights_class = weights_class or DETECTOR_WEIGHTS.get((backbone_name, masks, version))
    weights = resolve_weights(weights, weights_class, "weights")
    weights_backbone = resolve_weights(weights_backbone, BACKBONE_WEIGHTS.get(backbone_name), "weights_backbone")
    state_dict = None
    if weights is not None:
        weights_backbone = None
        num_classes = overwrite_num_classes(weights, num_classes)
        if keypoints and isinstance(weights, WeightsEnum):  # checked before anything is downloaded, as torchvision
            kwargs["num_keypoints"] = keypoint_count(weights, None, kwargs.get("num_keypoints"))
        state_dict = read_weights(weights, progress)  # read once: it gives the class count, then the weights
        check_file_version(state_dict, weights, masks, version)
        if num_classes is None:
            num_classes = num_classes_in_state_dict(state_dict)
    if num_classes is None:
        num_classes = KEYPOINT_NUM_CLASSES if keypoints else COCO_NUM_CLASSES
    if keypoints:
        kwargs["num_keypoints"] = keypoint_count(weights, state_dict, kwargs.get("num_keypoints"))
        if tuple(keypoint_head_layers) != KEYPOINT_HEAD_LAYERS:
            layers = tuple(keypoint_head_layers)
            kwargs["keypoint_head"] = KeypointRCNNHeads(fpn_channels, layers)
            kwargs["keypoint_predictor"] = KeypointRCNNPredictor(layers[-1], kwargs.pop("num_keypoints"))
    is_trained = weights is not None or weights_backbone is not None
    backbone = feature_extractor(backbone_name, version, is_trained, weights_backbone, progress,
                                 trainable_backbone_layers, fpn_channels)
    detector = KeypointRCNN if keypoints else MaskRCNN if masks else FasterRCNN
    if backbone_name in MOBILENET_NAMES:
        kwargs = {"rpn_anchor_generator": mobilenet_anchor_generator(), "rpn_score_thresh": MOBILENET_RPN_SCORE_THRESH,
                  **kwargs}
    if version == "v2":
        anchors = kwargs.pop("rpn_anchor_generator", None) or default_anchor_generator()
        heads = {"rpn_anchor_generator": anchors,
                 **v2_heads(anchors.num_anchors_per_location()[0], masks, fpn_channels, box_representation_size,
                            mask_head_channels)}
        predictors = v2_predictors(num_classes, masks, box_representation_size, mask_head_channels)
        model = detector(backbone, num_classes=None if predictors else num_classes, **heads, **predictors, **kwargs)
    else:
        heads = narrow_heads(num_classes, masks and not keypoints, fpn_channels, box_representation_size,
                             mask_head_channels)
        model = detector(backbone, num_classes=None if heads else num_classes, **heads, **kwargs)
    if state_dict is not None:
        load_state_dict_into(model, state_dict, weights_name(weights), DETECTOR_CLASS_SPECIFIC)
        if is_coco_v1_file(cached_file(weights) if isinstance(weights, WeightsEnum) else weights):
            set_frozen_batch_norm_eps(model, 0.0)  # those files were trained with eps 0 (torchvision does the same)
        if isinstance(weights, WeightsEnum):
            model.meta = dict(weights.meta)
    return model


def keypoint_count(weights: Any, state_dict: Optional[dict], num_keypoints: Optional[int]) -> int:
    """The keypoints of a Keypoint R-CNN: fixed by an enum's ``keypoint_names`` (torchvision's ``ValueError`` when
    ``num_keypoints`` says otherwise), read from a file's predictor, else ``num_keypoints`` or 17."""
    if isinstance(weights, WeightsEnum):
        fixed = len(weights.meta["keypoint_names"])
        if num_keypoints is not None and num_keypoints != fixed:
            raise ValueError(f"The parameter 'num_keypoints' expected value {fixed} but got {num_keypoints} instead.")
        return fixed
    key = "roi_heads.keypoint_predictor.kps_score_lowres.weight"
    if num_keypoints is None and state_dict is not None and key in state_dict:
        return int(state_dict[key].shape[1])  # ConvTranspose2d weights: [in, out, k, k]
    return COCO_NUM_KEYPOINTS if num_keypoints is None else num_keypoints


#: The name this builder had before MobileNet backbones; kept for code that calls it.
resnet_fpn_detector = fpn_detector


def check_file_version(state_dict: dict, weights: Any, masks: bool, version: str) -> None:
    """A checkpoint file of the other version (v1 / v2) is a :class:`CheckpointError` naming the builder to use."""
    file_version = state_dict_version(state_dict)
    if file_version is not None and file_version != version:
        name = "maskrcnn" if masks else "fasterrcnn"
        raise CheckpointError(f"{weights_name(weights)} holds a {file_version} detector ({VERSION_KEYS[file_version]}), "
                              f"not a {version} one: build it with {name}_resnet50_fpn"
                              f"{'_v2' if file_version == 'v2' else ''} (version={file_version!r})")


@legacy_interface(weights=("pretrained", MaskRCNN_ResNet50_FPN_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1))
def maskrcnn_resnet50_fpn(*, weights: WeightsArg = None, progress: bool = True, num_classes: Optional[int] = None,
                          weights_backbone: WeightsArg = ResNet50_Weights.IMAGENET1K_V1,
                          trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> MaskRCNN:
    """Mask R-CNN with a ResNet-50-FPN backbone, as torchvision builds it (37.9 box / 34.6 mask AP on COCO val2017
    with ``weights="DEFAULT"``); see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="resnet50", masks=True, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", FasterRCNN_ResNet50_FPN_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1))
def fasterrcnn_resnet50_fpn(*, weights: WeightsArg = None, progress: bool = True, num_classes: Optional[int] = None,
                            weights_backbone: WeightsArg = ResNet50_Weights.IMAGENET1K_V1,
                            trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone, as torchvision builds it; see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="resnet50", masks=False, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1))
def maskrcnn_resnet50_fpn_v2(*, weights: WeightsArg = None, progress: bool = True, num_classes: Optional[int] = None,
                             weights_backbone: WeightsArg = ResNet50_Weights.IMAGENET1K_V1,
                             trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> MaskRCNN:
    """torchvision's v2 Mask R-CNN with a ResNet-50-FPN backbone (47.4 box / 41.8 mask AP on COCO val2017 with
    ``weights="DEFAULT"``); see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="resnet50", masks=True, version="v2", weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1))
def fasterrcnn_resnet50_fpn_v2(*, weights: WeightsArg = None, progress: bool = True,
                               num_classes: Optional[int] = None,
                               weights_backbone: WeightsArg = ResNet50_Weights.IMAGENET1K_V1,
                               trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> FasterRCNN:
    """torchvision's v2 Faster R-CNN with a ResNet-50-FPN backbone; see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="resnet50", masks=False, version="v2", weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def fasterrcnn_mobilenet_v3_large_fpn(*, weights: WeightsArg = None, progress: bool = True,
                                      num_classes: Optional[int] = None,
                                      weights_backbone: WeightsArg = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                      trainable_backbone_layers: Optional[int] = None,
                                      **kwargs: Any) -> FasterRCNN:
    """torchvision's Faster R-CNN on a MobileNetV3-Large FPN (32.8 box AP on COCO val2017 with
    ``weights="DEFAULT"``); ``trainable_backbone_layers`` 0..6; see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="mobilenet_v3_large", masks=False, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def fasterrcnn_mobilenet_v3_large_320_fpn(*, weights: WeightsArg = None, progress: bool = True,
                                          num_classes: Optional[int] = None,
                                          weights_backbone: WeightsArg = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                          trainable_backbone_layers: Optional[int] = None,
                                          **kwargs: Any) -> FasterRCNN:
    """torchvision's low-resolution MobileNetV3-Large FPN Faster R-CNN: images at 320 px (at most 640), 150
    proposals at test time (22.8 box AP on COCO val2017 with ``weights="DEFAULT"``); see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="mobilenet_v3_large", masks=False, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers,
                        weights_class=FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
                        **{**MOBILENET_320_SETTINGS, **kwargs})


@legacy_interface(weights=("pretrained", None),
                  weights_backbone=("pretrained_backbone", MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def maskrcnn_mobilenet_v3_large_fpn(*, weights: WeightsArg = None, progress: bool = True,
                                    num_classes: Optional[int] = None,
                                    weights_backbone: WeightsArg = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                    trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> MaskRCNN:
    """Ours, not torchvision's: :func:`fasterrcnn_mobilenet_v3_large_fpn` with the Mask R-CNN mask branch (14 x 14
    RoIAlign on the two FPN levels, four 3x3 convolutions, 28 x 28 masks). No COCO weights are published for it:
    ``weights`` is a checkpoint file or None."""
    return fpn_detector(backbone_name="mobilenet_v3_large", masks=True, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **kwargs)


@legacy_interface(weights=("pretrained", None),
                  weights_backbone=("pretrained_backbone", MobileNet_V3_Large_Weights.IMAGENET1K_V1))
def maskrcnn_mobilenet_v3_large_320_fpn(*, weights: WeightsArg = None, progress: bool = True,
                                        num_classes: Optional[int] = None,
                                        weights_backbone: WeightsArg = MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                        trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> MaskRCNN:
    """Ours: :func:`maskrcnn_mobilenet_v3_large_fpn` at torchvision's low-resolution settings (320 px, at most 640,
    150 proposals at test time): the CPU model."""
    return fpn_detector(backbone_name="mobilenet_v3_large", masks=True, weights=weights, progress=progress,
                        num_classes=num_classes, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers, **{**MOBILENET_320_SETTINGS, **kwargs})


#: The builder of each of torchvision's published detector weights (how the tools open ``--weights DEFAULT``).
BUILDER_FOR_WEIGHTS: dict[type[WeightsEnum], Any] = {
    MaskRCNN_ResNet50_FPN_Weights: maskrcnn_resnet50_fpn,
    MaskRCNN_ResNet50_FPN_V2_Weights: maskrcnn_resnet50_fpn_v2,
    FasterRCNN_ResNet50_FPN_Weights: fasterrcnn_resnet50_fpn,
    FasterRCNN_ResNet50_FPN_V2_Weights: fasterrcnn_resnet50_fpn_v2,
    FasterRCNN_MobileNet_V3_Large_FPN_Weights: fasterrcnn_mobilenet_v3_large_fpn,
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights: fasterrcnn_mobilenet_v3_large_320_fpn,
}


@legacy_interface(weights=("pretrained", KeypointRCNN_ResNet50_FPN_Weights.COCO_V1),
                  weights_backbone=("pretrained_backbone", ResNet50_Weights.IMAGENET1K_V1))
def keypointrcnn_resnet50_fpn(*, weights: WeightsArg = None, progress: bool = True, num_classes: Optional[int] = None,
                              num_keypoints: Optional[int] = None,
                              weights_backbone: WeightsArg = ResNet50_Weights.IMAGENET1K_V1,
                              trainable_backbone_layers: Optional[int] = None, **kwargs: Any) -> KeypointRCNN:
    """Keypoint R-CNN with a ResNet-50-FPN backbone, as torchvision builds it (54.6 box / 65.0 keypoint AP on COCO
    val2017 persons with ``weights="DEFAULT"``); see :func:`fpn_detector`."""
    return fpn_detector(backbone_name="resnet50", masks=False, keypoints=True, weights=weights, progress=progress,
                        num_classes=num_classes, num_keypoints=num_keypoints, weights_backbone=weights_backbone,
                        trainable_backbone_layers=trainable_backbone_layers,
                        weights_class=KeypointRCNN_ResNet50_FPN_Weights, **kwargs)
