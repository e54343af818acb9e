"""Copy-paste augmentation keeps every object's mask, box and label together, as torchvision's references do."""
from __future__ import annotations

import torch

from transforms import paste_objects
from transforms.copy_paste import boxes_from_masks


def sample(height, width, rectangles, labels, value):
    image = torch.full((3, height, width), value)
    masks = torch.zeros((len(rectangles), height, width), dtype=torch.uint8)
    for mask, (x1, y1, x2, y2) in zip(masks, rectangles):
        mask[y1:y2, x1:x2] = 1
    target = {"boxes": torch.tensor(rectangles, dtype=torch.float32), "labels": torch.tensor(labels),
              "masks": masks, "area": masks.flatten(1).sum(1).float(), "iscrowd": torch.zeros(len(labels),
                                                                                             dtype=torch.int64)}
    return image, target


def test_boxes_from_masks_use_pixel_edges():
    masks = torch.zeros(2, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    assert boxes_from_masks(masks).tolist() == [[3.0, 2.0, 9.0, 5.0], [0.0, 0.0, 0.0, 0.0]]


def test_pasted_and_occluded_objects_keep_masks_boxes_and_labels_together():
    # this image: one object mostly covered by the paste, one fully covered, one untouched
    image, target = sample(40, 60, [(10, 10, 30, 30), (42, 12, 48, 18), (2, 32, 8, 38)], [1, 2, 3], 0.0)
    source, source_target = sample(40, 60, [(20, 5, 50, 25)], [4], 1.0)
    torch.manual_seed(0)
    out_image, out = paste_objects(image, target, source, source_target, blending=False)
    assert out["labels"].tolist() == [1, 3, 4]  # label 2 was fully covered: gone with its mask and box
    assert len(out["masks"]) == len(out["boxes"]) == len(out["area"]) == len(out["iscrowd"]) == 3
    for mask, box, area in zip(out["masks"], out["boxes"], out["area"]):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert box.tolist() == [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]
        assert area.item() == mask.sum().item()
    assert out["masks"][0][10:30, 10:20].all() and not out["masks"][0][10:25, 20:30].any()  # what the paste left
    assert torch.equal(out["masks"][2], source_target["masks"][0])
    assert (out_image[:, 5:25, 20:50] == 1.0).all() and (out_image[:, 30:40, :] == 0.0).all()


def test_a_source_of_another_size_is_resized_and_blending_softens_the_edge():
    image, target = sample(40, 60, [(2, 2, 10, 10)], [1], 0.0)
    source, source_target = sample(20, 30, [(10, 5, 20, 15)], [2], 1.0)  # half the size: lands on 20..40 x 10..30
    torch.manual_seed(0)
    out_image, out = paste_objects(image, target, source, source_target, blending=True)
    assert out["labels"].tolist() == [1, 2] and out["boxes"][1].tolist() == [20.0, 10.0, 40.0, 30.0]
    assert 0.0 < out_image[0, 20, 19].item() < 1.0  # blurred edge
    assert abs(out_image[0, 20, 30].item() - 1.0) < 1e-5 and out_image[0, 0, 0].item() == 0.0
