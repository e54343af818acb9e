"""box_area, box_iou, box_convert, clip_boxes_to_image, remove_small_boxes against torchvision.ops (exact)."""
import pytest
import torch
import torchvision.ops as tv

import maskrcnn

FORMATS = ["xyxy", "xywh", "cxcywh"]


def random_boxes(n: int, seed: int, dtype=torch.float32, scale: float = 500.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * scale
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * scale / 2
    boxes = torch.cat((xy, xy + wh), dim=1)
    if not dtype.is_floating_point:
        boxes = boxes.round()
    return boxes.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.int16, torch.int32, torch.int64])
@pytest.mark.parametrize("fmt", FORMATS)
def test_box_area_equals_torchvision(dtype, fmt):
    for seed, n in enumerate([0, 1, 2, 1000]):
        boxes = random_boxes(n, seed, dtype)
        ours, ref = maskrcnn.box_area(boxes, fmt), tv.box_area(boxes, fmt)
        assert ours.dtype == ref.dtype
        torch.testing.assert_close(ours, ref, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.int32, torch.int64])
@pytest.mark.parametrize("fmt", FORMATS)
def test_box_iou_equals_torchvision(dtype, fmt):
    for seed, (n, m) in enumerate([(0, 3), (1, 1), (2, 5), (1000, 200)]):
        a, b = random_boxes(n, seed, dtype), random_boxes(m, seed + 100, dtype)
        ours, ref = maskrcnn.box_iou(a, b, fmt), tv.box_iou(a, b, fmt)
        assert ours.shape == (n, m) and ours.dtype == ref.dtype
        torch.testing.assert_close(ours, ref, rtol=0, atol=0, equal_nan=True)


def test_box_iou_batched_leading_dims():
    a, b = random_boxes(24, 1).view(2, 3, 4, 4), random_boxes(30, 2).view(2, 3, 5, 4)
    torch.testing.assert_close(maskrcnn.box_iou(a, b), tv.box_iou(a, b), rtol=0, atol=0)


def test_box_iou_degenerate_and_huge_boxes():
    boxes = torch.tensor([[0, 0, 0, 0], [5, 5, 5, 9], [0, 0, 1e7, 1e7], [1e6, 1e6, 1e6 + 1, 1e6 + 1], [3, 3, 1, 1.0]])
    torch.testing.assert_close(maskrcnn.box_iou(boxes, boxes), tv.box_iou(boxes, boxes), rtol=0, atol=0,
                               equal_nan=True)


@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_box_convert_equals_torchvision(in_fmt, out_fmt, dtype):
    boxes = random_boxes(300, 7, dtype)
    ours, ref = maskrcnn.box_convert(boxes, in_fmt, out_fmt), tv.box_convert(boxes, in_fmt, out_fmt)
    assert ours.dtype == ref.dtype
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_box_convert_round_trip():
    # float64 round trips lose at most a few ulps of coordinates up to 750.
    boxes = random_boxes(100, 3, torch.float64)
    for fmt in FORMATS:
        back = maskrcnn.box_convert(maskrcnn.box_convert(boxes, "xyxy", fmt), fmt, "xyxy")
        torch.testing.assert_close(back, boxes, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_clip_boxes_to_image_equals_torchvision(dtype):
    boxes = random_boxes(200, 5, dtype, scale=800) - 100
    for size in [(300, 400), (1, 1), (1000, 50)]:
        torch.testing.assert_close(maskrcnn.clip_boxes_to_image(boxes, size), tv.clip_boxes_to_image(boxes, size),
                                   rtol=0, atol=0)
    nested = boxes.view(2, 100, 4)
    torch.testing.assert_close(maskrcnn.clip_boxes_to_image(nested, (300, 400)),
                               tv.clip_boxes_to_image(nested, (300, 400)), rtol=0, atol=0)


def test_remove_small_boxes_equals_torchvision():
    boxes = random_boxes(500, 9, scale=20)
    boxes[::7, 2] = boxes[::7, 0]  # zero width
    for min_size in [0.0, 1e-3, 1.0, 5.0, 25.0]:
        assert torch.equal(maskrcnn.remove_small_boxes(boxes, min_size), tv.remove_small_boxes(boxes, min_size))


@pytest.mark.parametrize("call, message", [
    (lambda: maskrcnn.box_iou(torch.zeros(3, 3), torch.zeros(2, 4)), r"boxes1 must have shape \[..., 4\]"),
    (lambda: maskrcnn.box_area(torch.zeros(3, 5)), r"boxes must have shape \[..., 4\], got \[3, 5\]"),
    (lambda: maskrcnn.box_convert(torch.zeros(3, 4), "xyxy", "polar"), "unsupported box format 'polar'"),
    (lambda: maskrcnn.box_iou(torch.zeros(3, 4), torch.zeros(2, 4), fmt="xywhr"), "unsupported box format"),
    (lambda: maskrcnn.clip_boxes_to_image(torch.zeros(3, 2), (3, 3)), r"shape \[..., 4\]"),
])
def test_bad_box_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
