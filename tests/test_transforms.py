"""Detection transforms keep image, boxes and masks consistent; flips are exact inverses."""
import pytest
import torch

from transforms import (
    Compose,
    FixedSizeCrop,
    RandomHorizontalFlip,
    RandomPhotometricDistort,
    RandomShortestSize,
    ScaleJitter,
    ToTensor,
    hflip,
    train_transforms,
)


def mask_box(mask: torch.Tensor) -> torch.Tensor:
    """(x1, y1, x2, y2) enclosing the mask's pixels, widths without +1 (pixel columns [x1, x2))."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)


def sample(seed: int = 0, height: int = 90, width: int = 120):
    """An image with rectangles and a disc whose boxes are exactly their masks' extents."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(3, height, width, generator=generator)
    masks, boxes = [], []
    for x1, y1, x2, y2 in [(5, 7, 40, 30), (60, 10, 118, 85), (0, 50, 20, 90), (30, 35, 55, 60)]:
        m = torch.zeros(height, width, dtype=torch.uint8)
        m[y1:y2, x1:x2] = 1
        masks.append(m)
        boxes.append([x1, y1, x2, y2])
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    disc = (((yy - 45) ** 2 + (xx - 85) ** 2) < 15 ** 2).to(torch.uint8)
    masks.append(disc)
    boxes.append(mask_box(disc).tolist())
    n = len(masks)
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.arange(1, n + 1),
              "masks": torch.stack(masks), "image_id": 7, "area": torch.stack(masks).flatten(1).sum(1).float(),
              "iscrowd": torch.zeros(n, dtype=torch.int64)}
    return image, target


def assert_masks_match_boxes(image, target):
    n = len(target["boxes"])
    assert len(target["labels"]) == len(target["masks"]) == len(target["area"]) == len(target["iscrowd"]) == n
    assert target["masks"].shape[1:] == image.shape[1:]
    assert target["masks"].dtype == torch.uint8
    for box, mask in zip(target["boxes"], target["masks"]):
        assert mask.any()
        assert (mask_box(mask) - box).abs().max() <= 1.0, (mask_box(mask), box)


TRANSFORMS = [
    RandomHorizontalFlip(1.0),
    RandomShortestSize([60, 100, 150], max_size=200),
    RandomShortestSize(240, max_size=1000),
    ScaleJitter((128, 128), scale_range=(0.3, 2.0)),
    FixedSizeCrop((64, 80)),
    FixedSizeCrop((200, 200), fill=0.5),
    RandomPhotometricDistort(p=1.0),
    Compose([ScaleJitter((100, 100)), FixedSizeCrop((100, 100)), RandomHorizontalFlip()]),
    train_transforms("multiscale"), train_transforms("lsj"), train_transforms("photometric"),
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("seed", range(4))
def test_masks_still_match_boxes(transform, seed):
    torch.manual_seed(seed)
    image, target = transform(*sample(seed))
    assert image.dtype == torch.float32 and image.dim() == 3
    assert_masks_match_boxes(image, target)
    labels = target["labels"].tolist()
    assert labels == sorted(labels)  # survivors keep their order, each with its own mask and box


def test_flip_is_its_own_inverse():
    image, target = sample()
    once_image, once = hflip(image, target)
    twice_image, twice = hflip(once_image, once)
    assert torch.equal(twice_image, image)
    assert torch.equal(twice["masks"], target["masks"])
    assert torch.equal(twice["boxes"], target["boxes"])
    # flipped pixels really moved: the first box (columns 5..39) lands at columns 80..114 of the 120-wide image
    assert once["boxes"][0].tolist() == [80.0, 7.0, 115.0, 30.0]
    assert torch.equal(mask_box(once["masks"][0]), once["boxes"][0])


def test_crop_removes_objects_that_leave_the_image_with_their_masks_and_labels():
    image, target = sample()
    torch.manual_seed(0)
    crop = FixedSizeCrop((40, 40))
    # find a seed for which the crop loses some objects, then check what is left lines up
    for seed in range(50):
        torch.manual_seed(seed)
        out_image, out = crop(image, target)
        if 0 < len(out["boxes"]) < len(target["boxes"]):
            break
    else:
        pytest.fail("no crop dropped an object")
    assert out_image.shape == (3, 40, 40)
    assert_masks_match_boxes(out_image, out)
    assert (out["boxes"][:, 0::2] <= 40).all() and (out["boxes"] >= 0).all()


def test_resize_drops_objects_that_vanish():
    image, target = sample()
    torch.manual_seed(0)
    out_image, out = RandomShortestSize(3, max_size=4)(image, target)
    assert out_image.shape[1:] == (3, 4)
    assert_masks_match_boxes(out_image, out)


def test_to_tensor_accepts_arrays_and_passes_float_tensors_through():
    import numpy as np
    array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    tensor, _ = ToTensor()(array)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == torch.float32
    assert tensor[1, 0, 0].item() == pytest.approx(1 / 255)
    same, _ = ToTensor()(tensor)
    assert same is tensor


def test_unknown_policy_is_named():
    with pytest.raises(ValueError, match="unknown augmentation policy 'bogus'"):
        train_transforms("bogus")
