"""The whole model against torchvision's on the same weights: eval outputs, train losses and gradients.

Tolerances: float64 runs compare to 1e-6 (observed differences are ~1e-13: batch norm is folded into the
convolutions, and mask pasting is two matrix products instead of F.interpolate). In float32 those reorderings of
the arithmetic change scores in the 7th digit, which can swap two detections whose scores are that close, so float32
runs match detections one to one (same label, IoU > 0.999) and then compare them.
"""
import torch

from maskrcnn.testing import match_detections

from tests.model_fixtures import (
    SMALL,
    assert_same_detections,
    assert_same_training_step,
    model_pair,
    pretrained_like_pair,
    random_images,
    targets_for,
)

SIZES = [(200, 260), (240, 180)]  # landscape and portrait
#: Fewer proposals and sampled RoIs than the defaults: in float64 the box head's 12544 x 1024 layer on 1000
#: proposals per image is most of a pass, and 300 proposals still give 100 detections per image to compare.
#: Fewer proposals, sampled RoIs and detections than the defaults. float64 convolutions have no oneDNN kernel, and
#: the mask head's four 256-channel convolutions on 100 detections per image were most of an eval pass; 40
#: detections per image still compare every step (and 300 proposals, the box head's NMS and top-k).
FEWER_ROIS = dict(rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=300, rpn_pre_nms_top_n_train=500,
                  rpn_post_nms_top_n_train=300, box_batch_size_per_image=128, box_detections_per_img=40)
#: The eval test runs at SMALL; the others at 160 px, which still feeds every pyramid level.
SMALLER = dict(FEWER_ROIS, min_size=160, max_size=208)


def test_state_dict_keys_parameter_count_and_seeded_init_equal_torchvision():
    reference, ours = model_pair(dtype=torch.float32)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert len(ours.state_dict()) == 360
    assert sum(p.numel() for p in ours.parameters()) == 44_454_513
    # Built with the same seed (not loaded): construction draws random numbers in torchvision's order.
    torch.manual_seed(0)
    import maskrcnn
    fresh = maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=None, **SMALL)
    for (name, a), b in zip(fresh.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name


def test_eval_float64_equals_torchvision():
    reference, ours = model_pair(box_score_thresh=0.0, **FEWER_ROIS)  # no score cut: 40 detections are pasted
    images = random_images(SIZES)
    with torch.no_grad():
        assert_same_detections(ours(images), reference(images), rtol=1e-6, atol=1e-6, min_count=40)


def test_eval_float64_with_frozen_batch_norm_equals_torchvision():
    reference, ours = pretrained_like_pair(**SMALLER)
    images = random_images(SIZES)
    with torch.no_grad():
        assert_same_detections(ours(images), reference(images), rtol=1e-6, atol=1e-6, min_count=40)


def test_eval_float32_equals_torchvision_within_tolerance():
    # Spread scores: with random weights' all-alike scores (~1/91) float32 rounding reorders nearly every detection.
    reference, ours = pretrained_like_pair(dtype=torch.float32, min_size=256, max_size=400,
                                           **dict(FEWER_ROIS, box_detections_per_img=60))
    images = random_images([(300, 200), (180, 330)], seed=3, dtype=torch.float32)
    with torch.no_grad():
        for a, b in zip(ours(images), reference(images)):
            assert len(b["boxes"]) > 50, "weights should produce many detections for a meaningful comparison"
            pairs = match_detections(a, b, iou_thresh=0.999)
            # only a near-tie at the 100-detection cut may leave one detection of each side unmatched
            assert len(pairs) >= len(b["boxes"]) - 1 and abs(len(a["boxes"]) - len(b["boxes"])) <= 1
            i, j = (torch.tensor(index) for index in zip(*pairs))
            torch.testing.assert_close(a["boxes"][i], b["boxes"][j], rtol=1e-5, atol=1e-3)
            torch.testing.assert_close(a["scores"][i], b["scores"][j], rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(a["masks"][i], b["masks"][j], rtol=0, atol=1e-3)


def test_train_losses_and_gradients_float64_equal_torchvision_with_an_empty_image():
    reference, ours = model_pair(**SMALLER)
    images, targets = random_images(SIZES), targets_for(SIZES, empty_index=1)
    losses = assert_same_training_step(ours, reference, images, targets, rtol=0, atol=1e-6)
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_mask", "loss_objectness", "loss_rpn_box_reg"]


def test_batch_of_only_empty_images_gives_exact_zero_box_and_mask_losses():
    _, ours = model_pair(**SMALLER)
    ours.train()
    sizes = [(220, 200)]
    losses = ours(random_images(sizes), targets_for(sizes, empty_index=0))
    for name in ("loss_box_reg", "loss_mask", "loss_rpn_box_reg"):
        assert losses[name].item() == 0.0, name
    assert losses["loss_classifier"].item() > 0 and losses["loss_objectness"].item() > 0
    sum(losses.values()).backward()  # the zero losses stay connected to the graph


def test_caller_targets_are_not_modified():
    _, ours = model_pair(**SMALLER)
    ours.train()
    targets = targets_for(SIZES)
    before = [{k: v.clone() for k, v in t.items()} for t in targets]
    ours(random_images(SIZES), targets)
    for t, b in zip(targets, before):
        assert all(torch.equal(t[k], b[k]) for k in b)
