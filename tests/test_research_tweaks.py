"""The same tweak applied to torchvision's model and to ours gives the same outputs (float64).

Tweaks: a forward hook on every module, swapped modules (GELU activations, a batch norm subclass with its own
forward), and a subclass overriding each of torchvision's override points (RoIHeads, RegionProposalNetwork,
GeneralizedRCNNTransform). Each override changes the result, so a method that were never called would fail.
"""
from __future__ import annotations

import functools

import pytest
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN as TvMaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone

import maskrcnn

from tests.model_fixtures import QUICK, model_pair, random_images, swap_relus_for_gelus, targets_for

SIZES = [(120, 150), (140, 110)]
TOLERANCE = dict(rtol=1e-9, atol=1e-9)


def small_pair(**kwargs):
    """ResNet-18-FPN Mask R-CNN with 8 classes, torchvision's and ours with the same weights, float64, eval mode."""
    kwargs = dict(num_classes=8, **QUICK, **kwargs)
    torch.manual_seed(0)
    reference = TvMaskRCNN(tv_resnet_fpn_backbone(backbone_name="resnet18", weights=None,
                                                  norm_layer=nn.BatchNorm2d, trainable_layers=5), **kwargs)
    ours = maskrcnn.MaskRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None,
                                                          norm_layer=nn.BatchNorm2d, trainable_layers=5), **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference.double().eval(), ours.double().eval()


def tensors_in(value) -> list:
    """Every tensor (and size) in a module's output, in a fixed order: tensors, lists, tuples, dicts, ImageList."""
    if isinstance(value, torch.Tensor):
        return [value]
    if hasattr(value, "tensors") and hasattr(value, "image_sizes"):
        return [value.tensors, torch.tensor([list(s) for s in value.image_sizes])]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in tensors_in(value[key])]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item)]
    return []


def assert_same_outputs(ours, reference):
    a, b = tensors_in(ours), tensors_in(reference)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype
        torch.testing.assert_close(x, y, **TOLERANCE)


def record_every_module(model: nn.Module) -> dict[str, list]:
    """Forward hooks on every module; each call's output is cloned (in-place ReLUs change it afterwards)."""
    calls: dict[str, list] = {}

    def hook(name, module, inputs, output):
        calls.setdefault(name, []).append([t.detach().clone() for t in tensors_in(output)])
    for name, module in model.named_modules():
        module.register_forward_hook(functools.partial(hook, name))
    return calls


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_a_hook_on_every_module_fires_alike_with_equal_outputs(training):
    reference, ours = model_pair(**QUICK)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in reference.named_modules()]
    reference.train(training)
    ours.train(training)
    images, targets = random_images(SIZES), targets_for(SIZES)
    ours_calls, reference_calls = record_every_module(ours), record_every_module(reference)
    torch.manual_seed(3)
    ours(images, targets if training else None)
    torch.manual_seed(3)
    reference(images, targets if training else None)
    assert sorted(ours_calls) == sorted(reference_calls)
    assert "backbone.body.layer1.0.conv1" in ours_calls and len(ours_calls["backbone.body.layer1.0.relu"]) == 3
    for name, reference_outputs in reference_calls.items():
        assert len(ours_calls[name]) == len(reference_outputs), name
        for a, b in zip(ours_calls[name], reference_outputs):
            assert len(a) == len(b), name
            for x, y in zip(a, b):
                torch.testing.assert_close(x, y, **TOLERANCE, msg=name)


class HalfBatchNorm(nn.BatchNorm2d):
    """A batch norm subclass with a forward of its own."""

    def forward(self, x):
        return super().forward(x) * 0.5


@pytest.mark.parametrize("optimized", [False, True], ids=["plain", "optimized"])
def test_swapped_modules_take_effect_as_in_torchvision(optimized):
    reference, ours = small_pair()
    images = random_images(SIZES)
    with torch.no_grad():
        before = reference(images)
    for model in (reference, ours):
        assert swap_relus_for_gelus(model.backbone.body) == 1 + 8  # the stem and each BasicBlock
        old = model.backbone.body.layer2[0].bn1
        new = HalfBatchNorm(old.num_features).double().eval()
        new.load_state_dict(old.state_dict())
        model.backbone.body.layer2[0].bn1 = new
    if optimized:
        maskrcnn.optimize(ours)
        assert type(ours.backbone.body.layer1[0]) is maskrcnn.BasicBlock  # not recognised: left plain
        assert type(ours.backbone.fpn).__name__ == "FusedFeaturePyramidNetwork"  # the standard parts are optimised
    with torch.no_grad():
        expected, got = reference(images), ours(images)
    assert not torch.equal(before[0]["scores"], expected[0]["scores"])  # the swaps changed the result
    assert_same_outputs(got, expected)


# ------------------------------------------------------------------------------------------ override points
# Each mixin overrides one method and calls the original through super(), so it applies to either library's class.

class CheckTargetsCounts:
    def check_targets(self, targets):
        self.checked = getattr(self, "checked", 0) + 1
        super().check_targets(targets)
        if self.checked > 1:
            raise ValueError(f"checked {self.checked} times")


class NoGtProposals:
    def add_gt_proposals(self, proposals, gt_boxes):
        return proposals


class AllForegroundIsClassOne:
    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        matched_idxs, labels = super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        return matched_idxs, [l.clamp(max=1) for l in labels]


class SixteenSamples:
    def subsample(self, labels):
        return [indices[:16] for indices in super().subsample(labels)]


class ShiftedRegressionTargets:
    def select_training_samples(self, proposals, targets):
        proposals, matched_idxs, labels, regression_targets = super().select_training_samples(proposals, targets)
        return proposals, matched_idxs, labels, [t + 0.25 for t in regression_targets]


class TopFiveDetections:
    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        boxes, scores, labels = super().postprocess_detections(class_logits, box_regression, proposals, image_shapes)
        return [b[:5] for b in boxes], [s[:5] for s in scores], [l[:5] for l in labels]


class FiftyPreNms:
    def pre_nms_top_n(self):
        return 50


class TwentyPostNms:
    def post_nms_top_n(self):
        return 20


class IgnoreBackgroundAnchors:
    def assign_targets_to_anchors(self, anchors, targets):
        labels, matched = super().assign_targets_to_anchors(anchors, targets)
        return [torch.where(l == 0, torch.full_like(l, -1.0), l) for l in labels], matched


class ThirtyProposals:
    def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
        boxes, scores = super().filter_proposals(proposals, objectness, image_shapes, num_anchors_per_level)
        return [b[:30] for b in boxes], [s[:30] for s in scores]


class ObjectnessOnly:
    def compute_loss(self, objectness, pred_bbox_deltas, labels, regression_targets):
        objectness_loss, box_loss = super().compute_loss(objectness, pred_bbox_deltas, labels, regression_targets)
        return objectness_loss * 2, box_loss * 0


class DarkerImages:
    def normalize(self, image):
        return super().normalize(image * 0.5)


class MirroredInput:
    def resize(self, image, target=None):
        return super().resize(image.flip(-1), target)


class PaddedTo64:
    def batch_images(self, images, size_divisible=32):
        return super().batch_images(images, size_divisible=64)


class BoxesInResizedCoordinates:
    def postprocess(self, result, image_shapes, original_image_sizes):
        return super().postprocess(result, image_shapes, image_shapes)


OVERRIDES = [  # (part of the model, mixin, mode)
    ("roi_heads", CheckTargetsCounts, "train"),
    ("roi_heads", NoGtProposals, "train"),
    ("roi_heads", AllForegroundIsClassOne, "train"),
    ("roi_heads", SixteenSamples, "train"),
    ("roi_heads", ShiftedRegressionTargets, "train"),
    ("roi_heads", TopFiveDetections, "eval"),
    ("rpn", FiftyPreNms, "eval"),
    ("rpn", TwentyPostNms, "eval"),
    ("rpn", IgnoreBackgroundAnchors, "train"),
    ("rpn", ThirtyProposals, "eval"),
    ("rpn", ObjectnessOnly, "train"),
    ("transform", DarkerImages, "eval"),
    ("transform", MirroredInput, "eval"),
    ("transform", PaddedTo64, "eval"),
    ("transform", BoxesInResizedCoordinates, "eval"),
]


def run(model, mode, images, targets):
    model.train(mode == "train")
    torch.manual_seed(7)
    return model(images, targets if mode == "train" else None)


@functools.cache
def unchanged_outputs(mode: str):
    """Our model's outputs without an override (the same for every override test: the pair is seeded)."""
    _, ours = small_pair()
    with torch.set_grad_enabled(mode == "train"):
        return run(ours, mode, random_images(SIZES), targets_for(SIZES))


@pytest.mark.parametrize("part,mixin,mode", OVERRIDES, ids=[m.__name__ for _, m, _ in OVERRIDES])
def test_an_override_changes_the_result_as_it_does_in_torchvision(part, mixin, mode):
    reference, ours = small_pair()
    images, targets = random_images(SIZES), targets_for(SIZES)
    unchanged = unchanged_outputs(mode)
    with torch.set_grad_enabled(mode == "train"):
        for model in (reference, ours):
            component = getattr(model, part)
            component.__class__ = type(f"{mixin.__name__}{type(component).__name__}", (mixin, type(component)), {})
        expected, got = run(reference, mode, images, targets), run(ours, mode, images, targets)
    assert_same_outputs(got, expected)
    if mixin is not CheckTargetsCounts:  # that one only observes; the others must change what comes out
        changed = [not (x.shape == y.shape and torch.allclose(x, y))
                   for x, y in zip(tensors_in(got), tensors_in(unchanged))]
        assert len(tensors_in(got)) != len(tensors_in(unchanged)) or any(changed)
    else:
        assert ours.roi_heads.checked == reference.roi_heads.checked == 1


def test_loss_weights_scale_the_named_losses():
    reference, ours = small_pair()
    images, targets = random_images(SIZES), targets_for(SIZES)
    ours.loss_weights = {"loss_mask": 2.0, "loss_objectness": 0.0}
    expected, got = run(reference, "train", images, targets), run(ours, "train", images, targets)
    for name, value in expected.items():
        weight = ours.loss_weights.get(name, 1.0)
        torch.testing.assert_close(got[name], value * weight, **TOLERANCE, msg=name)
    ours.loss_weights = {"loss_keypoint": 1.0}
    with pytest.raises(ValueError, match="loss_keypoint"):
        run(ours, "train", images, targets)


class DoubledMaskLoss(maskrcnn.MaskRCNNPredictor):
    """A user's mask loss: the predictor that owns the loss is subclassed."""

    def losses(self, mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs):
        return {"loss_mask": 2 * super().losses(mask_logits, proposals, gt_masks, gt_labels,
                                                 mask_matched_idxs)["loss_mask"]}


def test_a_predictor_subclass_replaces_its_loss():
    reference, ours = small_pair()
    images, targets = random_images(SIZES), targets_for(SIZES)
    ours.roi_heads.mask_predictor.__class__ = DoubledMaskLoss
    expected, got = run(reference, "train", images, targets), run(ours, "train", images, targets)
    torch.testing.assert_close(got["loss_mask"], 2 * expected["loss_mask"], **TOLERANCE)
    torch.testing.assert_close(got["loss_classifier"], expected["loss_classifier"], **TOLERANCE)
