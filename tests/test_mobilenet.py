"""MobileNetV3 backbones against torchvision's: seeded initialisation, stage freezing, the detectors' outputs and
training steps in float64, and our MobileNet Mask R-CNN against torchvision's parts composed the same way."""
import pytest
import torch
import torchvision
from torchvision.models import detection as tvd
from torchvision.models.detection.backbone_utils import mobilenet_backbone as tv_mobilenet_backbone

import maskrcnn
from maskrcnn.testing import CLASSIFIER_SCALE, match_detections, randomise_batch_norm

from tests.model_fixtures import assert_same_training_step, photo_like_images, targets_for

SIZES = [(150, 200), (180, 140)]
QUICK = dict(min_size=160, max_size=224)
#: Fewer proposals and sampled RoIs: in float64 the box head's 1024-wide layers on 1000 proposals (and 512 sampled
#: RoIs per image in training) are most of a pass; every stage still runs.
FEWER_ROIS = dict(rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=150, rpn_pre_nms_top_n_train=300,
                  rpn_post_nms_top_n_train=150, box_batch_size_per_image=128)


def trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    randomise_batch_norm(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    return model


def assert_same_detections(ours, reference, images) -> None:
    with torch.no_grad():
        expected, actual = reference.eval()(images), ours.eval()(images)
    for x, y in zip(actual, expected):
        assert len(y["boxes"]) > 0
        assert x.keys() == y.keys()
        for key in y:
            torch.testing.assert_close(x[key], y[key], rtol=1e-7, atol=1e-7)


def assert_parity(ours, reference) -> None:
    """Built from the same seed: the same keys and numbers (torchvision's drawing order); then, with trained-like
    weights in float64, the same detections and the same training step (an image without objects in the batch)."""
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (key, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), key
    trained_like(reference)
    ours.load_state_dict(reference.state_dict())
    reference, ours = reference.double(), ours.double()
    assert_same_detections(ours, reference, photo_like_images(SIZES))
    assert_same_training_step(ours, reference, photo_like_images(SIZES), targets_for(SIZES, empty_index=1),
                              rtol=1e-7, atol=1e-9)


def tv_maskrcnn_mobilenet(**kwargs):
    """torchvision's own parts composed as maskrcnn_mobilenet_v3_large_fpn composes ours (torchvision has no such
    builder): its MobileNet FPN backbone, its anchors, its MaskRCNN."""
    network = torchvision.models.mobilenet_v3_large(weights=None, norm_layer=torch.nn.BatchNorm2d)
    backbone = tvd.backbone_utils._mobilenet_extractor(network, True, 6)
    anchors = tvd.anchor_utils.AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    return tvd.MaskRCNN(backbone, num_classes=91, rpn_anchor_generator=anchors, rpn_score_thresh=0.05, **kwargs)


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v3_small"])
@pytest.mark.parametrize("trainable", [0, 2, 6])
def test_mobilenet_backbone_equals_torchvisions(name, trainable):
    for fpn in (True, False):
        torch.manual_seed(0)
        reference = tv_mobilenet_backbone(backbone_name=name, weights=None, fpn=fpn, trainable_layers=trainable)
        torch.manual_seed(0)
        ours = maskrcnn.mobilenet_backbone(backbone_name=name, weights=None, fpn=fpn, trainable_layers=trainable)
        assert ours.out_channels == reference.out_channels
        assert [(n, p.requires_grad) for n, p in ours.named_parameters()] == \
            [(n, p.requires_grad) for n, p in reference.named_parameters()]
        for (key, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
            assert torch.equal(a, b), key
        x = torch.rand(1, 3, 96, 128)
        a, b = ours(x), reference(x)
        if fpn:
            assert list(a) == list(b)
            a, b = list(a.values()), list(b.values())
        for u, v in zip(a if fpn else [a], b if fpn else [b]):
            torch.testing.assert_close(u, v, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"Trainable layers should be in the range \[0,6\], got 7"):
        maskrcnn.mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=None, fpn=True, trainable_layers=7)


@pytest.mark.parametrize("name", ["fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn"])
def test_faster_rcnn_mobilenet_equals_torchvisions(name):
    torch.manual_seed(0)
    sizes = {} if "320" in name else QUICK  # the 320 px model runs at its own defaults (and proposal counts)
    kwargs = dict(sizes, box_detections_per_img=30, **({} if "320" in name else FEWER_ROIS))
    reference = getattr(tvd, name)(weights=None, weights_backbone=None, **kwargs)
    torch.manual_seed(0)
    ours = getattr(maskrcnn, name)(weights=None, weights_backbone=None, **kwargs)
    assert repr(ours.transform) == repr(reference.transform)
    assert_parity(ours, reference)


def test_mask_rcnn_mobilenet_equals_torchvisions_parts():
    torch.manual_seed(0)
    kwargs = dict(QUICK, **FEWER_ROIS, box_detections_per_img=30, box_score_thresh=0.0)  # random heads: < 0.05
    reference = tv_maskrcnn_mobilenet(**kwargs)
    torch.manual_seed(0)
    ours = maskrcnn.maskrcnn_mobilenet_v3_large_fpn(weights_backbone=None, **kwargs)
    assert_parity(ours, reference)
    low = maskrcnn.maskrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None)
    assert (low.transform.min_size, low.transform.max_size, low.rpn._post_nms_top_n["testing"]) == ((320,), 640, 150)


def test_mobilenet_detector_files_load_and_optimize_keeps_outputs(tmp_path):
    torch.manual_seed(0)
    reference = trained_like(tvd.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None))
    torch.save(reference.state_dict(), tmp_path / "mobilenet.pth")
    ours = maskrcnn.fasterrcnn_mobilenet_v3_large_fpn(weights=tmp_path / "mobilenet.pth", **QUICK)
    images = photo_like_images(SIZES, dtype=torch.float32)
    x = torch.stack([torch.nn.functional.interpolate(i[None], size=(160, 192))[0] for i in images])
    with torch.no_grad():
        plain, plain_features = ours.eval()(images), ours.backbone(x)
        fast_model = maskrcnn.optimize(ours)
        fast, fast_features = fast_model(images), fast_model.backbone(x)
    # the hard-swish layers run as fused convolutions too
    assert type(fast_model.backbone.body["0"]).__name__ == "FusedConv2dNormActivation"
    for key in plain_features:  # folded batch norm: equal up to float32 rounding
        torch.testing.assert_close(fast_features[key], plain_features[key], rtol=1e-3, atol=1e-3)
    for a, b in zip(fast, plain):  # random heads score boxes nearly alike: near-ties may swap at the cut
        assert len(match_detections(a, b)) >= 0.9 * len(b["boxes"]) > 0
    with pytest.raises(ValueError, match="version must be one of v1 for mobilenet_v3_large"):
        maskrcnn.fpn_detector(backbone_name="mobilenet_v3_large", version="v2")
