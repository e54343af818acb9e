"""Tiled prediction (maskrcnn.engine.tiling): windows, the model's resize at scale 1, and merging by mask IoU.

The detection tests use a stand-in detector with a real resolution limit: it runs the model's own transform (our
GeneralizedRCNNTransform: resize to min_size, normalise) and finds bright blobs in what the backbone would see,
reporting those at least MIN_SIDE px across there. On a large mosaic, resized whole to the model's size, the small
shapes fall under that limit; tiled at their own resolution they are found. The real Mask R-CNN is checked on the
parts that do not need a trained model.
"""
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dataset.shapes import CATEGORIES, polygon_mask, shape_polygon
from maskrcnn import GeneralizedRCNNTransform
from maskrcnn.engine.tiling import Piece, merge_pieces, native_resolution, predict_tiled, tile_windows
from maskrcnn.testing import pretrained_like_pair

MIN_SIDE = 12  # px across in the resized image, below which the stand-in detector misses a blob
COLOURS = {1: (1.0, 0.2, 0.2), 2: (0.2, 1.0, 0.2), 3: (0.2, 0.4, 1.0), 4: (1.0, 1.0, 0.2)}  # label -> RGB


class BlobDetector(nn.Module):
    """Blobs of each label's colour in the transformed image, as model outputs (boxes, labels, scores, masks) in the
    input image's pixels."""

    def __init__(self, min_size: int = 128, max_size: int = 192):
        super().__init__()
        self.transform = GeneralizedRCNNTransform(min_size, max_size, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
        self.calls = 0

    def forward(self, images):
        self.calls += len(images)
        original_sizes = [tuple(image.shape[-2:]) for image in images]
        batch, _ = self.transform(images)
        outputs = []
        for tensor, (h, w), size in zip(batch.tensors, batch.image_sizes, original_sizes):
            seen = tensor[:, :h, :w]
            boxes, labels, masks = [], [], []
            for label, colour in COLOURS.items():
                near = (seen - torch.tensor(colour)[:, None, None]).abs().amax(0) < 0.1
                count, components, stats, _ = cv2.connectedComponentsWithStats(near.numpy().astype(np.uint8))
                for k in range(1, count):
                    x, y, bw, bh = stats[k, :4]
                    if min(bw, bh) < MIN_SIDE:
                        continue
                    mask = torch.from_numpy(components == k).float()[None, None]
                    masks.append(F.interpolate(mask, size=size, mode="bilinear", align_corners=False)[0])
                    sx, sy = size[1] / w, size[0] / h
                    boxes.append([x * sx, y * sy, (x + bw) * sx, (y + bh) * sy])
                    labels.append(label)
            outputs.append({"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                            "labels": torch.tensor(labels, dtype=torch.int64),
                            "scores": torch.full((len(labels),), 0.9),
                            "masks": torch.stack(masks) if masks else torch.zeros((0, 1) + size)})
        return outputs


def mosaic(rows: int = 5, cols: int = 5, cell: int = 150, seed: int = 0):
    """A ``rows x cols`` mosaic of built-in-style cells: shapes 28-64 px drawn with the built-in set's polygons, each
    in its label's colour, some of them across a cell's border. Returns the image and its ground-truth masks."""
    rng = np.random.default_rng(seed)
    height, width = rows * cell, cols * cell
    image = np.zeros((height, width, 3), dtype=np.float32)
    truths = []
    for r in range(rows):
        for c in range(cols):
            size = float(rng.uniform(28, 64))
            cx = c * cell + rng.uniform(size / 2 + 2, cell - size / 2 - 2)
            cy = r * cell + rng.uniform(size / 2 + 2, cell - size / 2 - 2)
            if (r + c) % 3 == 0 and c + 1 < cols:  # across the cell's right border
                cx = (c + 1) * cell - size * 0.3
            label = int(rng.integers(1, 5))
            mask = polygon_mask(shape_polygon(CATEGORIES[label - 1], (cx, cy), size, rng.uniform(0, math.pi)),
                                height, width)
            if any((mask & t[1]).any() for t in truths):
                continue
            image[mask] = COLOURS[label]
            truths.append((label, mask))
    return torch.from_numpy(image).permute(2, 0, 1).contiguous(), truths


def matches(output, truths, iou: float = 0.8) -> list[int]:
    """For each truth, how many detections of its label cover it with mask IoU >= ``iou``."""
    found = []
    for label, mask in truths:
        truth = torch.from_numpy(mask)
        count = 0
        for k in range(len(output["labels"])):
            if int(output["labels"][k]) != label:
                continue
            predicted = output["masks"][k, 0] > 0.5
            inter, union = (predicted & truth).sum().item(), (predicted | truth).sum().item()
            count += inter / union >= iou
        found.append(count)
    return found


def test_windows_cover_the_image_and_overlap_as_asked():
    windows = tile_windows(500, 700, 256, 64)
    covered = np.zeros((500, 700), dtype=bool)
    for x1, y1, x2, y2 in windows:
        assert x2 - x1 == 256 and y2 - y1 == 256
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    xs = sorted({w[0] for w in windows})
    assert xs == [0, 192, 384, 444]  # every 192 px, the last one moved back to end at the border
    assert tile_windows(100, 700, 256, 64)[0] == (0, 0, 256, 100)
    with pytest.raises(ValueError, match="larger than the overlap"):
        tile_windows(500, 700, 64, 64)


def test_untiled_misses_the_small_shapes_and_tiled_finds_each_once():
    image, truths = mosaic()
    assert len(truths) >= 20 and sum(t[1].any(0)[k * 150 - 1] and t[1].any(0)[k * 150]
                                     for t in truths for k in (1, 2, 3, 4)) >= 4  # some shapes cross a cell border
    detector = BlobDetector()
    untiled = detector([image])[0]  # 750 x 750 resized to 128: shapes of 5-11 px
    assert sum(matches(untiled, truths, iou=0.5)) <= len(truths) // 4
    tiled = predict_tiled(detector, image, tile=160, overlap=48)
    assert matches(tiled, truths) == [1] * len(truths)  # every shape, cut or not, once, with its whole mask
    assert len(tiled["labels"]) == len(truths)  # and nothing else
    assert tiled["masks"].dtype == torch.bool and tiled["masks"].shape == (len(truths), 1, 750, 750)
    for box, (_, mask) in zip(tiled["boxes"][matches_order(tiled, truths)], truths):
        ys, xs = np.nonzero(mask)
        assert box.tolist() == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=1.5)
    assert detector.transform.min_size == (128,) and detector.transform.max_size == 192  # restored


def matches_order(output, truths) -> list[int]:
    """The detection index that matches each truth (by mask IoU)."""
    order = []
    for _, mask in truths:
        truth = torch.from_numpy(mask)
        ious = [((output["masks"][k, 0] & truth).sum() / (output["masks"][k, 0] | truth).sum()).item()
                for k in range(len(output["labels"]))]
        order.append(int(np.argmax(ious)))
    return order


def piece(window, box, mask_box, label=1, score=0.9):
    x1, y1, x2, y2 = mask_box
    return Piece(window, torch.tensor(box, dtype=torch.float32), label, score,
                 torch.ones((y2 - y1, x2 - x1), dtype=torch.bool), mask_box)


def test_pieces_of_a_cut_object_merge_by_mask_and_touching_objects_stay_apart():
    left, right = (0, 0, 100, 100), (60, 0, 160, 100)
    # one object over x 40..130: the left window sees 40..100, the right one 60..130; they agree on 60..100
    cut = [piece(left, [40, 10, 100, 50], (40, 10, 100, 50)), piece(right, [60, 10, 130, 50], (60, 10, 130, 50))]
    merged = merge_pieces(cut)
    assert len(merged) == 1 and len(merged[0].pieces) == 2
    # two objects side by side (x 62..80 and 80..98) whose boxes overlap a lot once the right one's piece is cut at
    # the left window's border; their masks do not overlap: they stay two
    a = piece(left, [62, 10, 80, 50], (62, 10, 80, 50))
    b = piece(right, [78, 10, 98, 50], (80, 10, 98, 50), score=0.8)
    assert len(merge_pieces([a, b])) == 2
    # the same class in one window is the model's call: never merged
    assert len(merge_pieces([piece(left, [40, 10, 60, 50], (40, 10, 60, 50)),
                             piece(left, [40, 10, 60, 50], (40, 10, 60, 50), score=0.5)])) == 2
    # another class is another object
    assert len(merge_pieces([cut[0], piece(right, [60, 10, 130, 50], (60, 10, 130, 50), label=2)])) == 2


def test_a_real_mask_rcnn_runs_its_windows_at_their_own_resolution():
    torch.manual_seed(0)
    _, model = pretrained_like_pair(seed=0, min_size=200, max_size=300, rpn_pre_nms_top_n_test=200,
                                    rpn_post_nms_top_n_test=100, box_detections_per_img=30,
                                    box_score_thresh=0.2)  # 14 passes: few detections keep the mask head cheap
    model.eval()
    image = torch.rand(3, 260, 380)
    seen = []
    handle = model.backbone.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].shape[-2:]))
    with torch.inference_mode():
        whole = predict_tiled(model, image, tile=400)  # one window holds it all: the plain model call
        reference = model([image])[0]
        tiled = predict_tiled(model, image, tile=160, overlap=32)
    handle.remove()
    for key in ("boxes", "labels", "scores", "masks"):
        assert torch.equal(whole[key], reference[key])
    # 3 x 2 windows of 160 px, each seen by the backbone at 160 px (padded to 160, divisible by 32), not resized
    assert len(seen) == 1 + 1 + 6 and all(tuple(s) == (160, 160) for s in seen[2:])
    assert model.transform.min_size == (200,) and model.transform.max_size == 300
    boxes = tiled["boxes"]
    assert len(boxes) and (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 380).all() and (boxes[:, 3] <= 260).all()
    assert tiled["masks"].shape == (len(boxes), 1, 260, 380)
    windows = tile_windows(260, 380, 160, 32)
    alone = 0
    with native_resolution(model, 160), torch.inference_mode():
        for window in windows:  # a detection that no other window sees is that window's, moved by its offset
            x1, y1, x2, y2 = window
            moved = model([image[:, y1:y2, x1:x2]])[0]["boxes"] + torch.tensor([x1, y1, x1, y1])
            others = [w for w in windows if w != window]
            for box in moved:
                if all(box[0] > w[2] + 2 or box[2] < w[0] - 2 or box[1] > w[3] + 2 or box[3] < w[1] - 2
                       for w in others):
                    alone += 1
                    assert (tiled["boxes"] - box).abs().amax(1).min() < 1e-4
    assert alone >= 3
