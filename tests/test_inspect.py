"""maskrcnn.inspect, tools/inspect_model.py and the anchor coverage of check_data.py.

The inspection's final detections must equal ``model(image)``'s and its proposals what the RPN hands the RoI heads
(both observed here independently of it); its counts must match its tensors, on the default model and on a tweaked
one (other anchors, a GroupNorm mask head), with and without masks.
"""
from __future__ import annotations

import os
import re

import cv2
import pytest
import torch
from torch import nn

import maskrcnn
from maskrcnn.analysis.anchor_coverage import anchor_coverage, input_anchors
from maskrcnn.faster_rcnn import default_anchor_generator

from tests.model_fixtures import random_images
from tests.model_fixtures import spread_score_checkpoint as checkpoint
from tests.tool_runner import refused, tool

SMALL_DETECTOR = dict(backbone_name="resnet18", num_classes=5, min_size=160, max_size=224, fpn_channels=64,
                      box_representation_size=128, mask_head_channels=64)


def tweaked_detector() -> maskrcnn.MaskRCNN:
    backbone = maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    anchors = maskrcnn.AnchorGenerator(((16,), (32,), (64,), (128,), (256,)), ((0.25, 0.5, 1.0, 2.0, 4.0),) * 5)
    return maskrcnn.MaskRCNN(backbone, num_classes=4, min_size=160, max_size=224, rpn_anchor_generator=anchors,
                             rpn_head=maskrcnn.RPNHead(256, 5),
                             mask_head=maskrcnn.MaskRCNNHeads(256, (256,) * 4, 1,
                                                              norm_layer=lambda c: nn.GroupNorm(32, c)),
                             box_score_thresh=0.0)


MODELS = {
    "default": lambda: maskrcnn.resnet_fpn_detector(**SMALL_DETECTOR, box_score_thresh=0.0),
    "tweaked": tweaked_detector,
    "boxes only": lambda: maskrcnn.resnet_fpn_detector(**SMALL_DETECTOR, masks=False, box_score_thresh=0.0),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_inspection_matches_the_models_own_pass(kind):
    torch.manual_seed(0)
    model = MODELS[kind]().eval()
    image = random_images([(150, 200)], dtype=torch.float32)[0]
    handed = {}
    model.roi_heads.register_forward_pre_hook(lambda module, args: handed.update(proposals=args[1][0]))
    rng = torch.get_rng_state()
    target = {"boxes": torch.tensor([[20.0, 30.0, 90.0, 120.0], [100.0, 10.0, 190.0, 60.0]]),
              "labels": torch.tensor([1, 3])}
    inspection = maskrcnn.inspect(model, image, target)
    assert torch.equal(torch.get_rng_state(), rng) and not model.training
    with torch.no_grad():
        expected = model([image])[0]
    assert sorted(inspection.output) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(inspection.output[key], value), key
    assert torch.equal(inspection.proposals, handed["proposals"])
    for name, per_location in zip(inspection.anchors, inspection.anchors_per_location):
        h, w = inspection.features[name].shape[-2:]
        assert len(inspection.anchors[name]) == len(inspection.objectness[name]) == h * w * per_location
    assert inspection.anchors_per_location == [model.rpn.anchor_generator.num_anchors_per_location()[0]] * 5
    assert (inspection.proposal_scores > 0).all()  # every proposal found among the candidates before NMS
    detections = inspection.detections_resized
    assert torch.equal(detections["scores"], expected["scores"]) and torch.equal(detections["labels"],
                                                                                 expected["labels"])
    assert inspection.class_scores.shape[0] == len(inspection.proposals)
    assert inspection.has_masks == (kind != "boxes only")
    if inspection.has_masks:
        assert inspection.mask_logits.shape == (len(expected["boxes"]), 28, 28)
        # they are each detection's class's logits: pasted, they are the model's masks
        pasted = maskrcnn.paste_masks_in_image(inspection.mask_logits.sigmoid()[:, None], expected["boxes"],
                                               image.shape[-2:])
        torch.testing.assert_close(pasted, expected["masks"])
    else:
        assert "no mask branch" in inspection.notes[0]
    labels = torch.cat(list(inspection.anchor_labels.values()))
    assert len(labels) == sum(len(a) for a in inspection.anchors.values()) and (labels == 1).any()
    assert len(inspection.sampled_rois) == len(inspection.sampled_labels) == len(inspection.sampled_matched_boxes)


def test_the_anchors_of_the_coverage_are_the_models():
    model = maskrcnn.resnet_fpn_detector(**SMALL_DETECTOR).eval()
    seen = {}
    model.rpn.anchor_generator.register_forward_hook(lambda module, args, output: seen.update(anchors=output[0]))
    with torch.no_grad():
        model([torch.rand(3, 333, 517)])
    anchors, (sy, sx) = input_anchors(333, 517, 160, 224, default_anchor_generator())
    assert torch.equal(anchors, seen["anchors"])
    # a box equal to an anchor covers at IoU 1; the histogram counts every box once
    box = anchors[1000:1001] / torch.tensor([sx, sy, sx, sy])  # back to image pixels
    coverage = anchor_coverage([box], [(333, 517)], 160, 224)
    assert coverage.best_iou.item() == pytest.approx(1.0, abs=1e-3) and sum(coverage.histogram()) == 1


def captions(page: str) -> dict[str, str]:
    return dict(re.findall(r"<figure id='([^']+)'>.*?<figcaption>(.*?)</figcaption>", page, flags=re.S))


def test_the_tool_writes_every_view_with_true_counts(tiny_shapes, tmp_path):
    from dataset import coco2017_paths
    model = checkpoint(tmp_path / "model.pth")
    image_dir, ann_file = coco2017_paths(tiny_shapes, "val")
    name = sorted(os.listdir(image_dir))[0]
    image_id = int(os.path.splitext(name)[0])
    done = tool("inspect_model.py", os.path.join(image_dir, name), "--weights", tmp_path / "model.pth", "--ann",
                ann_file, "--image-id", image_id, "--out", tmp_path / "page")
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "page" / "index.html").read_text()
    found = captions(page)
    expected = {"input", "anchors_0", "anchors_pool", "objectness_0", "objectness_pool", "proposals_before_nms",
                "proposals_after_nms", "ground_truth", "anchor_matches", "sampled_rois",
                "detections_before_threshold", "detections_after_nms", "mask_logits", "overlay"}
    assert expected <= set(found)
    for view in found:
        assert f"src='{view}.png'" in page and cv2.imread(str(tmp_path / "page" / f"{view}.png")) is not None
    from dataset import image_to_tensor, read_rgb
    inspection = maskrcnn.inspect(model.eval(), image_to_tensor(read_rgb(os.path.join(image_dir, name))))
    assert found["proposals_after_nms"].startswith(f"{len(inspection.proposals)} proposals after NMS")
    assert found["detections_after_nms"].startswith(f"{len(inspection.detections_resized['boxes'])} detections")
    h, w = inspection.features["0"].shape[-2:]
    assert found["anchors_0"].startswith(f"{h}x{w} locations x 3 anchors = {h * w * 3}")


def test_a_model_without_masks_says_so_and_bad_input_gets_one_line(tiny_shapes, tmp_path):
    from dataset import coco2017_paths
    checkpoint(tmp_path / "boxes.pth", masks=False)
    image_dir, ann_file = coco2017_paths(tiny_shapes, "val")
    image = os.path.join(image_dir, sorted(os.listdir(image_dir))[0])
    done = tool("inspect_model.py", image, "--weights", tmp_path / "boxes.pth", "--out", tmp_path / "page")
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "page" / "index.html").read_text()
    assert "no mask branch" in page and "mask_logits" not in captions(page)
    missing_id = refused("inspect_model.py", image, "--weights", tmp_path / "boxes.pth", "--ann", ann_file,
                      "--image-id", 424242, "--out", tmp_path / "x")
    error = missing_id.stderr.strip().splitlines()[-1]
    assert missing_id.returncode == 2 and error.startswith("error: ") and "424242" in error
    (tmp_path / "notes.jpg").write_text("not an image")
    not_image = refused("inspect_model.py", tmp_path / "notes.jpg", "--weights", tmp_path / "boxes.pth")
    assert not_image.returncode == 2 and not_image.stderr.count("\n") == 1 and "notes.jpg" in not_image.stderr


def test_check_data_reports_anchor_coverage_per_size(tiny_shapes):
    done = tool("check_data.py", "--data-root", tiny_shapes, "--min-size", 64, "--max-size", 96)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("anchor coverage of") for line in lines)
    counted = sum(int(line.split()[1]) for line in lines if re.match(r"\s+0\.\d-\d\.\d\s", line))
    total = next(line for line in lines if line.strip().startswith("all "))
    assert counted == int(total.split()[1]) > 0


def test_the_candidates_before_nms_are_what_an_overridden_filter_proposals_passes_on():
    """A tweak that shifts the proposals before the default selection: the inspection's candidates are the shifted
    ones the RPN's NMS saw (recomputing them from the head's outputs would show unshifted boxes), and every
    proposal the RoI heads got is one of them, with its score."""

    class ShiftedProposals(maskrcnn.RegionProposalNetwork):
        def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
            return super().filter_proposals(proposals + 7.0, objectness, image_shapes, num_anchors_per_level)

    torch.manual_seed(0)
    model = maskrcnn.resnet_fpn_detector(**SMALL_DETECTOR, box_score_thresh=0.0).eval()
    rpn = model.rpn
    model.rpn = ShiftedProposals(rpn.anchor_generator, rpn.head, 0.7, 0.3, 256, 0.5, rpn._pre_nms_top_n,
                                 rpn._post_nms_top_n, rpn.nms_thresh)
    image = random_images([(150, 200)], dtype=torch.float32)[0]
    handed = {}
    model.roi_heads.register_forward_pre_hook(lambda module, args: handed.update(proposals=args[1][0]))
    inspection = maskrcnn.inspect(model, image)
    assert torch.equal(inspection.proposals, handed["proposals"])
    same = (inspection.proposals[:, None] == inspection.proposals_before_nms[None]).all(-1)
    assert bool(same.any(1).all()) and bool((inspection.proposal_scores > 0).all())
    assert "pre_nms_candidates" not in vars(model.rpn)  # the recording is gone afterwards
