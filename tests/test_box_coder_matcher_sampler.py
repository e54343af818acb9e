"""BoxCoder, Matcher and BalancedPositiveNegativeSampler against torchvision.models.detection._utils (exact)."""
import math

import pytest
import torch
from torchvision.models.detection import _utils as tv_utils

import maskrcnn

from tests.test_box_ops import random_boxes

WEIGHTS = [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_encode_equals_torchvision(weights, dtype):
    ours, ref = maskrcnn.BoxCoder(weights), tv_utils.BoxCoder(weights)
    gts = [random_boxes(n, seed, dtype) + 1 for seed, n in enumerate([0, 1, 300])]
    proposals = [random_boxes(len(g), seed + 50, dtype) + 1 for seed, g in enumerate(gts)]
    for a, b in zip(ours.encode(gts, proposals), ref.encode(gts, proposals)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_sets", [1, 91])
def test_decode_equals_torchvision_including_the_clip(weights, dtype, num_sets):
    ours, ref = maskrcnn.BoxCoder(weights), tv_utils.BoxCoder(weights)
    boxes = [random_boxes(n, seed, dtype) for seed, n in enumerate([5, 0, 200])]
    g = torch.Generator().manual_seed(1)
    codes = torch.randn(205, 4 * num_sets, generator=g, dtype=torch.float64).to(dtype) * 3
    codes[::3, 2::4] = 50.0  # far beyond the clip: dw is clamped to log(1000/16)
    torch.testing.assert_close(ours.decode(codes, boxes), ref.decode(codes, boxes), rtol=0, atol=0)
    torch.testing.assert_close(ours.decode_single(codes, boxes[2].repeat(2, 1)[:205]),
                               ref.decode_single(codes, boxes[2].repeat(2, 1)[:205]), rtol=0, atol=0)


def test_decode_empty():
    ours, ref = maskrcnn.BoxCoder((1.0, 1.0, 1.0, 1.0)), tv_utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
    codes = torch.zeros(0, 4)
    assert ours.decode(codes, [torch.zeros(0, 4)]).shape == ref.decode(codes, [torch.zeros(0, 4)]).shape


def test_clip_bounds_growth():
    coder = maskrcnn.BoxCoder((1.0, 1.0, 1.0, 1.0))
    box = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    out = coder.decode_single(torch.tensor([[0.0, 0.0, 100.0, 100.0]]), box)
    torch.testing.assert_close(out[0, 2] - out[0, 0], torch.tensor(1000.0), rtol=1e-6, atol=0)
    assert math.isclose(maskrcnn.box_coder.DEFAULT_BBOX_XFORM_CLIP, math.log(1000 / 16))


@pytest.mark.parametrize("weights", WEIGHTS)
def test_encode_decode_round_trip(weights):
    coder = maskrcnn.BoxCoder(weights)
    # Proposals around their ground truth, within the clip's 62.5x growth (beyond it decode clamps by design).
    gt = random_boxes(500, 1, torch.float64) + torch.tensor([0.0, 0.0, 5.0, 5.0])
    jitter = torch.randn(500, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    proposals = gt + jitter * (gt[:, 2:] - gt[:, :2]).repeat(1, 2) * 0.1
    decoded = coder.decode_single(coder.encode_single(gt, proposals), proposals)
    torch.testing.assert_close(decoded, gt, rtol=0, atol=1e-9)


def test_encode_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        maskrcnn.BoxCoder((1.0, 1.0, 1.0, 1.0)).encode_single(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="list or tuple"):
        maskrcnn.BoxCoder((1.0, 1.0, 1.0, 1.0)).decode(torch.zeros(3, 4), torch.zeros(3, 4))


@pytest.mark.parametrize("low_quality", [False, True])
@pytest.mark.parametrize("thresholds", [(0.7, 0.3), (0.5, 0.5)])
def test_matcher_equals_torchvision(low_quality, thresholds):
    ours = maskrcnn.Matcher(*thresholds, allow_low_quality_matches=low_quality)
    ref = tv_utils.Matcher(*thresholds, allow_low_quality_matches=low_quality)
    for seed, (m, n) in enumerate([(1, 1), (3, 50), (20, 5000)]):
        quality = maskrcnn.box_iou(random_boxes(m, seed), random_boxes(n, seed + 9))
        assert torch.equal(ours(quality), ref(quality))
    # Ties: two predictions share the best IoU of a ground truth; both get it with low-quality matches on.
    quality = torch.tensor([[0.2, 0.2, 0.1], [0.05, 0.1, 0.6]])
    assert torch.equal(ours(quality), ref(quality))


def test_matcher_errors():
    with pytest.raises(ValueError, match="No ground-truth boxes"):
        maskrcnn.Matcher(0.7, 0.3)(torch.zeros(0, 5))
    with pytest.raises(ValueError, match="No proposal boxes"):
        maskrcnn.Matcher(0.7, 0.3)(torch.zeros(5, 0))
    with pytest.raises(ValueError, match="low_threshold"):
        maskrcnn.Matcher(0.3, 0.7)


@pytest.mark.parametrize("batch, fraction", [(256, 0.5), (512, 0.25)])
def test_sampler_equals_torchvision_with_the_same_seed(batch, fraction):
    g = torch.Generator().manual_seed(0)
    matched = [torch.randint(-2, 4, (n,), generator=g) for n in [10, 3000, 20000]]
    matched.append(torch.zeros(100, dtype=torch.int64))  # no positives at all
    torch.manual_seed(123)
    ours = maskrcnn.BalancedPositiveNegativeSampler(batch, fraction)(matched)
    torch.manual_seed(123)
    ref = tv_utils.BalancedPositiveNegativeSampler(batch, fraction)(matched)
    for a, b in zip(ours[0] + ours[1], ref[0] + ref[1]):
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_sampler_counts():
    matched = torch.cat((torch.ones(40, dtype=torch.int64), torch.zeros(1000, dtype=torch.int64),
                         torch.full((50,), -1)))
    pos, neg = maskrcnn.BalancedPositiveNegativeSampler(256, 0.5)([matched])
    assert int(pos[0].sum()) == 40 and int(neg[0].sum()) == 216  # too few positives: negatives fill up
    assert not (pos[0].bool() & (matched != 1)).any() and not (neg[0].bool() & (matched != 0)).any()
    pos, neg = maskrcnn.BalancedPositiveNegativeSampler(64, 0.25)([matched])
    assert int(pos[0].sum()) == 16 and int(neg[0].sum()) == 48
