"""Each stage against torchvision's counterpart on the same inputs and weights (float64, exact unless stated)."""
import pytest
import torch
import torchvision
from torchvision.models.detection import anchor_utils, image_list
from torchvision.models.detection import roi_heads as tv_roi_heads
from torchvision.models.detection import transform as tv_transform
from torchvision.ops import poolers as tv_poolers

import maskrcnn

from tests.model_fixtures import model_pair, random_images, targets_for


@pytest.fixture(scope="module")
def models():
    return model_pair()


@pytest.fixture(scope="module")
def batch(models):
    reference, _ = models
    images = random_images([(200, 260), (240, 180)])
    image_list_, _ = reference.transform(images)
    with torch.no_grad():
        features = reference.backbone(image_list_.tensors)
    return images, image_list_, features


def assert_exact(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_transform_normalise_resize_batch_and_targets(models):
    reference, ours = models
    for training in (False, True):
        reference.transform.train(training)
        ours.transform.train(training)
        sizes = [(200, 260), (240, 181)]
        images, targets = random_images(sizes), targets_for(sizes)
        torch.manual_seed(0)
        ref_list, ref_targets = reference.transform(images, targets)
        torch.manual_seed(0)
        our_list, our_targets = ours.transform(images, targets)
        assert_exact(our_list.tensors, ref_list.tensors)
        assert our_list.image_sizes == [tuple(s) for s in ref_list.image_sizes]
        for a, b in zip(our_targets, ref_targets):
            assert_exact(a["boxes"], b["boxes"])
            assert torch.equal(a["masks"], b["masks"])
    reference.eval()
    ours.eval()


def test_transform_multiscale_training_draws_like_torchvision():
    ours = maskrcnn.GeneralizedRCNNTransform((160, 192, 224), 400, [0.5] * 3, [0.2] * 3).train()
    ref = tv_transform.GeneralizedRCNNTransform((160, 192, 224), 400, [0.5] * 3, [0.2] * 3).train()
    images = random_images([(100, 120)] * 6)
    torch.manual_seed(3)
    a, _ = ours(images)
    torch.manual_seed(3)
    b, _ = ref(images)
    assert our_sizes(a) == our_sizes(b) and len(set(our_sizes(a))) > 1


def our_sizes(il):
    return [tuple(s) for s in il.image_sizes]


def test_transform_postprocess_boxes_and_masks(models):
    reference, ours = models
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(30, 4, generator=g, dtype=torch.float64) * 150
    boxes[:, 2:] += boxes[:, :2]
    masks = torch.rand(30, 1, 28, 28, generator=g, dtype=torch.float64)
    result = [{"boxes": boxes, "masks": masks}]
    a = ours.transform.postprocess([dict(r) for r in result], [(224, 300)], [(480, 640)])
    b = reference.transform.postprocess([dict(r) for r in result], [(224, 300)], [(480, 640)])
    assert_exact(a[0]["boxes"], b[0]["boxes"])
    torch.testing.assert_close(a[0]["masks"], b[0]["masks"], rtol=0, atol=1e-12)


def test_backbone_and_fpn_features(models, batch):
    reference, ours = models
    _, image_list_, features = batch
    with torch.no_grad():
        body = ours.backbone.body(image_list_.tensors)
        # batch norm is folded into the convolutions (eval mode): the same algebra, rounded differently
        torch.testing.assert_close(body["3"], reference.backbone.body(image_list_.tensors)["3"], rtol=1e-12,
                                   atol=1e-12)
        ours_features = ours.backbone.fpn(body)
    assert list(ours_features) == ["0", "1", "2", "3", "pool"]
    for name in features:
        torch.testing.assert_close(ours_features[name], features[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padded_size", [(224, 320), (800, 1088), (416, 608)])
def test_anchors_including_non_power_of_two_strides(padded_size):
    sizes = ((32,), (64,), (128,), (256,), (512,))
    ours = maskrcnn.AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    ref = anchor_utils.AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    h, w = padded_size
    feature_maps = [torch.zeros(1, 1, -(-h // s), -(-w // s)) for s in (4, 8, 16, 32)]
    feature_maps.append(torch.zeros(1, 1, -(-feature_maps[-1].shape[2] // 2), -(-feature_maps[-1].shape[3] // 2)))
    tensors = torch.zeros(2, 3, h, w)
    a = ours(maskrcnn.ImageList(tensors, [(h, w)] * 2), feature_maps)
    b = ref(image_list.ImageList(tensors, [(h, w)] * 2), feature_maps)
    for x, y in zip(a, b):
        assert_exact(x, y)
    assert ours.cell_anchors[0].tolist() == [[-23, -11, 23, 11], [-16, -16, 16, 16], [-11, -23, 11, 23]]


def test_rpn_proposals_and_losses(models, batch):
    reference, ours = models
    _, image_list_, features = batch
    with torch.no_grad():
        for a, b in zip(ours.rpn(image_list_, features)[0], reference.rpn(image_list_, features)[0]):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)  # the head's conv runs channels-last
    reference.rpn.train()
    ours.rpn.train()
    sizes = [tuple(s) for s in image_list_.image_sizes]
    targets = targets_for(sizes, empty_index=1)
    torch.manual_seed(2)
    boxes_ref, losses_ref = reference.rpn(image_list_, features, targets)
    torch.manual_seed(2)
    boxes_ours, losses_ours = ours.rpn(image_list_, features, targets)
    reference.rpn.eval()
    ours.rpn.eval()
    for a, b in zip(boxes_ours, boxes_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    for name in losses_ref:
        torch.testing.assert_close(losses_ours[name], losses_ref[name], rtol=1e-12, atol=1e-12)


def test_multiscale_roi_align(batch):
    _, image_list_, features = batch
    g = torch.Generator().manual_seed(0)
    boxes = []
    for h, w in image_list_.image_sizes:
        xy = torch.rand(40, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 0.7
        wh = torch.rand(40, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 0.5 + 1
        boxes.append(torch.cat((xy, xy + wh), dim=1))
    # the CPU pools by a weighted gather (same samples, other rounding): float64 agrees to rounding, gradients too
    for output_size in (7, 14):
        ours = maskrcnn.MultiScaleRoIAlign(["0", "1", "2", "3"], output_size, 2)
        ref = tv_poolers.MultiScaleRoIAlign(["0", "1", "2", "3"], output_size, 2)
        ours_in = {k: v.detach().clone().requires_grad_() for k, v in features.items()}
        ref_in = {k: v.detach().clone().requires_grad_() for k, v in features.items()}
        pooled = ours(ours_in, boxes, image_list_.image_sizes)
        expected = ref(ref_in, boxes, image_list_.image_sizes)
        torch.testing.assert_close(pooled, expected, rtol=1e-12, atol=1e-12)
        weights = torch.randn(expected.shape, generator=g, dtype=torch.float64)
        (pooled * weights).sum().backward()
        (expected * weights).sum().backward()
        for name in features:
            torch.testing.assert_close(ours_in[name].grad, ref_in[name].grad, rtol=1e-12, atol=1e-12)
    levels = maskrcnn.poolers.LevelMapper(2, 5)([torch.tensor([[0, 0, 224.0, 224.0], [0, 0, 111.9, 112],
                                                               [0, 0, 1, 1], [0, 0, 2000, 2000]])])
    assert levels.tolist() == [2, 0, 0, 3]


def test_box_and_mask_heads_and_postprocessing(models, batch):
    reference, ours = models
    _, image_list_, features = batch
    sizes = image_list_.image_sizes
    with torch.no_grad():
        # the first 300 of each image's 1000 proposals: the heads see each RoI alone, and in float64 the box head's
        # 12544 x 1024 layer on all of them would be most of the suite's time here
        proposals = [p[:300] for p in reference.rpn(image_list_, features)[0]]
        pooled = reference.roi_heads.box_roi_pool(features, proposals, sizes)
        rep = ours.roi_heads.box_head(pooled)
        assert_exact(rep, reference.roi_heads.box_head(pooled))
        logits, deltas = ours.roi_heads.box_predictor(rep)
        ref_logits, ref_deltas = reference.roi_heads.box_predictor(rep)
        assert_exact(logits, ref_logits)
        assert_exact(deltas, ref_deltas)
        reference.roi_heads.score_thresh = ours.roi_heads.score_thresh = 0.0
        ours_post = maskrcnn.roi_heads.box_postprocess.postprocess_detections(
            logits, deltas, proposals, sizes, ours.roi_heads.box_coder, 0.0, 0.5, 100)
        ref_post = reference.roi_heads.postprocess_detections(logits, deltas, proposals, sizes)
        reference.roi_heads.score_thresh = ours.roi_heads.score_thresh = 0.05
        for a, b in zip(ours_post, ref_post):
            for x, y in zip(a, b):
                assert_exact(x, y)
        mask_pooled = reference.roi_heads.mask_roi_pool(features, [b[:40] for b in ours_post[0]], sizes)
        mask_features = ours.roi_heads.mask_head(mask_pooled)
        # the mask head's convolutions run channels-last (other summation order)
        torch.testing.assert_close(mask_features, reference.roi_heads.mask_head(mask_pooled), rtol=1e-10, atol=1e-10)
        assert_exact(ours.roi_heads.mask_predictor(mask_features), reference.roi_heads.mask_predictor(mask_features))


def test_box_and_mask_losses():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20, 5, generator=g, dtype=torch.float64)
    deltas = torch.randn(20, 20, generator=g, dtype=torch.float64)
    labels = [torch.randint(0, 5, (12,), generator=g), torch.zeros(8, dtype=torch.int64)]
    targets = [torch.randn(12, 4, generator=g, dtype=torch.float64), torch.randn(8, 4, generator=g, dtype=torch.float64)]
    for a, b in zip(maskrcnn.fastrcnn_loss(logits, deltas, labels, targets),
                    tv_roi_heads.fastrcnn_loss(logits, deltas, labels, targets)):
        assert_exact(a, b)
    mask_logits = torch.randn(6, 5, 28, 28, generator=g, dtype=torch.float64)
    proposals = [torch.tensor([[10, 10, 60, 50], [0, 0, 30, 30], [5, 20, 90, 70.0]], dtype=torch.float64)] * 2
    gt_masks = [(torch.rand(2, 80, 100, generator=g) > 0.5).to(torch.uint8)] * 2
    gt_labels = [torch.tensor([1, 4])] * 2
    matched = [torch.tensor([0, 1, 1]), torch.tensor([1, 0, 0])]
    assert_exact(maskrcnn.maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, matched),
                 tv_roi_heads.maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, matched))


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_paste_masks_in_image(dtype, atol):
    """Tolerance: PyTorch's bilinear kernel and our two matrix products round differently in the last bits."""
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(60, 1, 28, 28, generator=g, dtype=torch.float64).to(dtype)
    xy = torch.rand(60, 2, generator=g, dtype=torch.float64) * 300 - 40
    wh = torch.rand(60, 2, generator=g, dtype=torch.float64) * 200
    # Detections are clipped to the image before pasting (torchvision's paste fails on boxes outside it).
    boxes = maskrcnn.clip_boxes_to_image(torch.cat((xy, xy + wh), dim=1), (240, 320)).to(dtype)
    boxes[0] = torch.tensor([5.0, 5.0, 5.2, 5.1])  # smaller than a pixel
    boxes[1] = torch.tensor([0.0, 0.0, 320.0, 240.0])  # the whole image: the expanded box leaves it
    ours = maskrcnn.paste_masks_in_image(masks, boxes, (240, 320))
    ref = tv_roi_heads.paste_masks_in_image(masks, boxes, (240, 320))
    assert ours.shape == ref.shape == (60, 1, 240, 320) and ours.dtype == ref.dtype
    torch.testing.assert_close(ours, ref, rtol=0, atol=atol)
    assert maskrcnn.paste_masks_in_image(masks[:0], boxes[:0], (10, 12)).shape == (0, 1, 10, 12)
    outside = torch.tensor([[400.0, 300.0, 450.0, 350.0], [-90.0, -80.0, -50.0, -40.0]], dtype=dtype)
    assert not maskrcnn.paste_masks_in_image(masks[:2], outside, (240, 320)).any()


def test_frozen_batch_norm_equals_torchvision():
    ours, ref = maskrcnn.FrozenBatchNorm2d(8, eps=1e-5), torchvision.ops.FrozenBatchNorm2d(8, eps=1e-5)
    g = torch.Generator().manual_seed(0)
    state = {k: torch.rand(8, generator=g) + 0.1 for k in ("weight", "bias", "running_mean", "running_var")}
    state["num_batches_tracked"] = torch.tensor(7)
    ours.load_state_dict(dict(state))
    ref.load_state_dict(dict(state))
    x = torch.randn(2, 8, 5, 5, generator=g)
    assert_exact(ours(x), ref(x))
