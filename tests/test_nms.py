"""nms and batched_nms against torchvision.ops: same kept indices in the same order."""
import pytest
import torch
import torchvision
import torchvision.ops as tv

import maskrcnn

THRESHOLDS = [0.2, 0.5, 0.7, 0.8]
SIZES = [0, 1, 2, 1000, 5000]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_problem(n: int, seed: int, dtype=torch.float32, ties: bool = False):
    """Boxes clustered around a few objects (so that NMS has real work) and scores, optionally with many ties."""
    g = torch.Generator().manual_seed(seed)
    objects = max(1, n // 40)
    centres = torch.rand(objects, 2, generator=g, dtype=torch.float64) * 800
    sizes = torch.rand(objects, 2, generator=g, dtype=torch.float64) * 200 + 4
    owner = torch.randint(0, objects, (n,), generator=g)
    ctr = centres[owner] + torch.randn(n, 2, generator=g, dtype=torch.float64) * sizes[owner] * 0.2
    wh = sizes[owner] * torch.exp(torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.3)
    boxes = torch.cat((ctr - wh / 2, ctr + wh / 2), dim=1).to(dtype)
    scores = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    if ties:
        scores = torch.randint(0, 4, (n,), generator=g).to(dtype) / 4
    return boxes, scores


def reference_greedy(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """The textbook definition, one box at a time, in float64: an independent check of the semantics."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    iou = tv.box_iou(boxes.double(), boxes.double())
    kept: list[int] = []
    for i in order:
        if all(iou[k, i] <= threshold for k in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nms_equals_torchvision(n, threshold, dtype):
    for seed in range(3):
        boxes, scores = random_problem(n, seed + 10 * n, dtype)
        assert torch.equal(maskrcnn.nms(boxes, scores, threshold), tv.nms(boxes, scores, threshold))


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("n", [2, 50, 1000, 3000])
def test_nms_with_tied_scores_equals_torchvision(n, threshold):
    for seed in range(3):
        boxes, scores = random_problem(n, seed, ties=True)
        assert torch.equal(maskrcnn.nms(boxes, scores, threshold), tv.nms(boxes, scores, threshold))


def test_nms_matches_textbook_greedy():
    for seed in range(5):
        boxes, scores = random_problem(300, seed, torch.float64)
        for threshold in THRESHOLDS:
            assert maskrcnn.nms(boxes, scores, threshold).tolist() == reference_greedy(boxes, scores, threshold)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_nms_at_the_threshold(threshold):
    """Pairs whose IoU is the threshold itself and the threshold +- 1e-5: strictly greater suppresses."""
    boxes, scores = [], []
    for k, delta in enumerate([-1e-5, 0.0, 1e-5]):
        x = 100.0 * k
        # IoU of [x, 0, x+10, 10] and [x, 0, x+10, 10 * t] is t.
        boxes += [[x, 0, x + 10, 10], [x, 0, x + 10, 10 * (threshold + delta)]]
        scores += [0.9 - k * 0.1, 0.85 - k * 0.1]
    # Exact ratios: inter / union = p / q with small integers, so float32 holds the IoU as the nearest float.
    exact = {0.2: (2, 10), 0.5: (5, 10), 0.7: (7, 10), 0.8: (8, 10)}[threshold]
    boxes += [[500, 0, 510, 10], [500, 0, 510, exact[0] * 10 / exact[1]]]
    scores += [0.5, 0.4]
    for dtype in [torch.float32, torch.float64]:
        b, s = torch.tensor(boxes, dtype=dtype), torch.tensor(scores, dtype=dtype)
        assert torch.equal(maskrcnn.nms(b, s, threshold), tv.nms(b, s, threshold))


def test_nms_long_suppression_chains_across_blocks():
    """Each box overlaps only its neighbours: greedy keeps every other one, a chain longer than a block."""
    n = 1500
    x = torch.arange(n, dtype=torch.float32) * 4.0
    boxes = torch.stack((x, torch.zeros(n), x + 10, torch.full((n,), 10.0)), dim=1)
    scores = torch.linspace(1, 0, n)
    for threshold in [0.2, 0.5]:
        ours = maskrcnn.nms(boxes, scores, threshold)
        assert torch.equal(ours, tv.nms(boxes, scores, threshold))
    # Shuffled scores make chains that interleave across blocks.
    scores = torch.rand(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(maskrcnn.nms(boxes, scores, 0.3), tv.nms(boxes, scores, 0.3))


def test_nms_degenerate_and_huge_boxes():
    boxes = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 9], [0, 0, 1e7, 1e7], [0, 0, 1e7, 9e6],
                          [1e6, 1e6, 1e6 + 1, 1e6 + 1], [3, 3, 1, 1.0], [3, 3, 1, 1.0], [-50, -50, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3, 0.2])
    for threshold in THRESHOLDS:
        assert torch.equal(maskrcnn.nms(boxes, scores, threshold), tv.nms(boxes, scores, threshold))


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("n", SIZES)
def test_batched_nms_equals_torchvision(n, threshold):
    for seed, classes in enumerate([1, 3, 90]):
        boxes, scores = random_problem(n, seed + n)
        idxs = torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))
        ours = maskrcnn.batched_nms(boxes, scores, idxs, threshold)
        assert torch.equal(ours, tv.batched_nms(boxes, scores, idxs, threshold))


@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_batched_nms_mixes_small_and_large_categories(threshold):
    """Categories of up to 256 boxes are solved side by side (padded), larger ones block by block: both at once."""
    boxes, scores = random_problem(6000, 11)
    g = torch.Generator().manual_seed(11)
    idxs = torch.randint(1, 80, (6000,), generator=g)
    idxs[torch.randperm(6000, generator=g)[:1200]] = 0  # one category of ~1270 boxes, the rest ~60 each
    idxs[:3] = 80  # a category of three, and one of a single box
    idxs[3] = 81
    ours = maskrcnn.batched_nms(boxes, scores, idxs, threshold)
    assert torch.equal(ours, tv.batched_nms(boxes, scores, idxs, threshold))


@pytest.mark.parametrize("n", [50, 1000, 3000])
def test_batched_nms_with_tied_scores(n):
    """Kept sets are equal; the order is by score, ties by index. torchvision's per-class path (inputs over 1000
    boxes on CPU) orders ties by an unstable sort, so there only the scores in order are compared."""
    for seed in range(3):
        boxes, scores = random_problem(n, seed, ties=True)
        idxs = torch.randint(0, 5, (n,), generator=torch.Generator().manual_seed(seed))
        ours = maskrcnn.batched_nms(boxes, scores, idxs, 0.5)
        ref = tv.batched_nms(boxes, scores, idxs, 0.5)
        assert torch.equal(ours.sort()[0], ref.sort()[0])
        assert torch.equal(scores[ours], scores[ref])
        per_class_kept = torch.cat([torch.where(idxs == c)[0][tv.nms(boxes[idxs == c], scores[idxs == c], 0.5)]
                                    for c in idxs.unique()])
        assert torch.equal(ours.sort()[0], per_class_kept.sort()[0])
        by_score_then_index = sorted(ours.tolist(), key=lambda i: (-float(scores[i]), i))
        assert ours.tolist() == by_score_then_index


def test_batched_nms_never_suppresses_across_classes():
    boxes = torch.tensor([[0, 0, 10, 10.0]] * 4)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    idxs = torch.tensor([0, 1, 0, 2])
    assert maskrcnn.batched_nms(boxes, scores, idxs, 0.5).tolist() == [0, 1, 3]


@pytest.mark.parametrize("device", DEVICES)
def test_nms_runs_on_every_device(device):
    boxes, scores = random_problem(2000, 3)
    idxs = torch.randint(0, 4, (2000,), generator=torch.Generator().manual_seed(3))
    ours = maskrcnn.nms(boxes.to(device), scores.to(device), 0.6).cpu()
    assert torch.equal(ours, tv.nms(boxes, scores, 0.6))
    ours = maskrcnn.batched_nms(boxes.to(device), scores.to(device), idxs.to(device), 0.6).cpu()
    assert torch.equal(ours, tv.batched_nms(boxes, scores, idxs, 0.6))


def test_nms_half_precision_is_compared_in_float32():
    boxes, scores = random_problem(500, 4)
    boxes = boxes.half()
    assert torch.equal(maskrcnn.nms(boxes, scores, 0.5), tv.nms(boxes.float(), scores, 0.5))


@pytest.mark.parametrize("call, message", [
    (lambda: maskrcnn.nms(torch.zeros(5, 3), torch.zeros(5), 0.5), r"boxes must have shape \[N, 4\], got \[5, 3\]"),
    (lambda: maskrcnn.nms(torch.zeros(4), torch.zeros(1), 0.5), r"boxes must have shape \[N, 4\]"),
    (lambda: maskrcnn.nms(torch.zeros(5, 4), torch.zeros(5, 1), 0.5), r"scores must have shape \[N\]"),
    (lambda: maskrcnn.nms(torch.zeros(5, 4), torch.zeros(4), 0.5), "same length, got 5 and 4"),
    (lambda: maskrcnn.batched_nms(torch.zeros(5, 4), torch.zeros(5), torch.zeros(3), 0.5), r"idxs must have shape"),
])
def test_bad_nms_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_torchvision_behaviours_at_the_edges():
    """Empty input of any shape, quantized boxes, and input errors of torchvision's type (RuntimeError; ours is
    also a ValueError)."""
    empty = torch.empty(0)
    assert torch.equal(maskrcnn.batched_nms(empty, empty, empty, 0.5), torchvision.ops.batched_nms(empty, empty, empty, 0.5))
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(200, 4, generator=g) * 100
    boxes[:, 2:] += boxes[:, :2]
    scores = torch.rand(200, generator=g) * 100
    qboxes = torch.quantize_per_tensor(boxes, scale=2, zero_point=10, dtype=torch.quint8)
    qscores = torch.quantize_per_tensor(scores, scale=2, zero_point=10, dtype=torch.quint8)
    assert torch.equal(maskrcnn.nms(qboxes, qscores, 0.5), torchvision.ops.nms(qboxes, qscores, 0.5))
    for bad_boxes, bad_scores in ((torch.rand(4), torch.rand(3)), (torch.rand(3, 5), torch.rand(3)),
                                  (torch.rand(3, 4), torch.rand(3, 2)), (torch.rand(3, 4), torch.rand(4))):
        for caught in (RuntimeError, ValueError):
            with pytest.raises(caught):
                maskrcnn.nms(bad_boxes, bad_scores, 0.5)
        with pytest.raises(RuntimeError):
            torchvision.ops.nms(bad_boxes, bad_scores, 0.5)
