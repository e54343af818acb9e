"""roi_align as a weighted gather (ours, CPU) against torchvision.ops.roi_align (aligned=False), forward and backward."""
import pytest
import torch
from torchvision.ops import roi_align

from maskrcnn.ops.roi_align_gather import roi_align_gather


def edge_case_rois(height: int, width: int, scale: float, images: int, dtype: torch.dtype) -> torch.Tensor:
    """Boxes (image coordinates) inside, across every border, wholly outside, degenerate, on the last row/column."""
    h, w = height / scale, width / scale
    boxes = [
        [0, 0, w, h], [-20, -20, 30, 30], [w - 10, h - 10, w + 40, h + 40], [-100, -100, -50, -50],
        [w + 10, 5, w + 90, 60], [5, 5, 5, 5], [10.3, 7.7, 10.4, 7.8], [w - 1, 0, w, h], [0, h - 1 / scale, w, h],
        [-1 / scale, -1 / scale, 2, 2], [3.5, 2.25, 47.75, 31.5], [0.1, 0.2, w * 0.9, h * 0.3],
    ]
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(30, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 1.2 - 10
    wh = torch.rand(30, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 0.6
    random = torch.cat([xy, xy + wh], dim=1)
    all_boxes = torch.cat([torch.tensor(boxes, dtype=torch.float64), random])
    ids = (torch.arange(all_boxes.shape[0]) % images).to(torch.float64)[:, None]
    return torch.cat([ids, all_boxes], dim=1).to(dtype)


@pytest.mark.parametrize("output_size,sampling_ratio,scale", [((7, 7), 2, 0.25), ((14, 14), 2, 0.125),
                                                              ((5, 3), 1, 0.5), ((4, 6), 3, 1.0)])
def test_forward_and_gradient_match_torchvision_in_float64(output_size, sampling_ratio, scale):
    g = torch.Generator().manual_seed(0)
    feature = torch.randn(2, 5, 13, 17, generator=g, dtype=torch.float64)
    rois = edge_case_rois(13, 17, scale, 2, torch.float64)
    ours_in = feature.clone().requires_grad_()
    ref_in = feature.clone().requires_grad_()
    ours = roi_align_gather(ours_in, rois, output_size, scale, sampling_ratio)
    ref = roi_align(ref_in, rois, output_size, spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=False)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    assert ours.shape == ref.shape
    weights = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    (ours * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-13, atol=1e-13)


def test_float32_channels_last_input_and_output():
    g = torch.Generator().manual_seed(1)
    feature = torch.randn(2, 64, 40, 52, generator=g).contiguous(memory_format=torch.channels_last)
    rois = edge_case_rois(40, 52, 0.25, 2, torch.float32)
    ours = roi_align_gather(feature, rois, (7, 7), 0.25, 2)
    ref = roi_align(feature, rois, (7, 7), spatial_scale=0.25, sampling_ratio=2, aligned=False)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert ours.is_contiguous(memory_format=torch.channels_last)


def test_no_rois_and_bad_sampling_ratio():
    feature = torch.randn(1, 4, 8, 8)
    out = roi_align_gather(feature, torch.zeros(0, 5), (7, 7), 1.0, 2)
    assert out.shape == (0, 4, 7, 7)
    with pytest.raises(ValueError, match="sampling_ratio"):
        roi_align_gather(feature, torch.zeros(1, 5), (7, 7), 1.0, 0)


def test_gradient_is_deterministic():
    """Training runs repeat to the last digit: the gather's backward adds rows in a fixed order."""
    g = torch.Generator().manual_seed(2)
    feature = torch.randn(2, 32, 30, 40, generator=g).contiguous(memory_format=torch.channels_last)
    rois = edge_case_rois(30, 40, 0.25, 2, torch.float32).repeat(8, 1)
    upstream = torch.randn(rois.shape[0], 32, 7, 7, generator=g)
    grads = []
    for _ in range(3):
        x = feature.clone().requires_grad_()
        roi_align_gather(x, rois, (7, 7), 0.25, 2).backward(upstream)
        grads.append(x.grad)
    assert all(torch.equal(grads[0], other) for other in grads[1:])
