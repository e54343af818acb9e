"""Keypoint R-CNN against torchvision's: the heads, the targets and loss, the inference, and the whole model in
float64 (seeded initialisation, eval outputs; training losses and gradients with an image without people, in its
fast form: ``maskrcnn.optimize``)."""
import warnings

import pytest
import torch
from torchvision.models.detection import keypointrcnn_resnet50_fpn as tv_keypointrcnn_resnet50_fpn
from torchvision.models.detection import roi_heads as tv_roi_heads
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads as TvHeads
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNPredictor as TvPredictor

import maskrcnn
from maskrcnn.optimized import optimized_modules
from maskrcnn.roi_heads import heatmaps_to_keypoints, keypointrcnn_loss, keypoints_to_heatmap

from tests.model_fixtures import QUICK, assert_same_training_step, photo_like_images

#: Small enough for float64 on two cores (the keypoint head is eight 512-wide convolutions per RoI): 128-160 px,
#: few proposals, 8 sampled RoIs (2 positive) and 3 detections per image; a low score
#: threshold, so that random weights (which give "person" ~0.005) leave detections to compare.
SETTINGS = dict(QUICK, min_size=128, max_size=160, box_score_thresh=0.001, box_detections_per_img=3,
                box_batch_size_per_image=8)
SIZES = [(150, 120), (128, 160)]


def keypoints_in(boxes: torch.Tensor, generator: torch.Generator, count: int = 17) -> torch.Tensor:
    """``[G, K, 3]``: points spread over each box (some just outside it), visibility 0, 1 or 2."""
    x1, y1, x2, y2 = boxes.T
    u = torch.rand(len(boxes), count, generator=generator, dtype=torch.float64) * 1.2 - 0.1
    v = torch.rand(len(boxes), count, generator=generator, dtype=torch.float64) * 1.2 - 0.1
    visibility = torch.randint(0, 3, (len(boxes), count), generator=generator).double()
    return torch.stack([x1[:, None] + u * (x2 - x1)[:, None], y1[:, None] + v * (y2 - y1)[:, None], visibility],
                       dim=-1)


def test_heads_equal_torchvisions_with_the_same_seed_and_input():
    torch.manual_seed(0)
    tv_head, tv_predictor = TvHeads(16, (32,) * 8), TvPredictor(32, 17)
    torch.manual_seed(0)
    head, predictor = maskrcnn.KeypointRCNNHeads(16, (32,) * 8), maskrcnn.KeypointRCNNPredictor(32, 17)
    assert list(head.state_dict()) == list(tv_head.state_dict())
    assert list(predictor.state_dict()) == list(tv_predictor.state_dict())
    features = torch.randn(3, 16, 14, 14, generator=torch.Generator().manual_seed(1))
    expected = tv_predictor(tv_head(features))
    torch.testing.assert_close(predictor(head(features)), expected, rtol=0, atol=0)
    assert expected.shape == (3, 17, 56, 56)


def test_targets_loss_and_inference_equal_torchvisions():
    generator = torch.Generator().manual_seed(2)
    rois = torch.tensor([[10.0, 20.0, 60.0, 90.0], [0.0, 0.0, 33.3, 17.5], [5.5, 5.5, 6.0, 6.2]],
                        dtype=torch.float64)
    keypoints = keypoints_in(rois, generator)
    keypoints[0, 0, :2] = rois[0, 2:]  # exactly on the right and bottom edges: the last cell
    for got, expected in zip(keypoints_to_heatmap(keypoints, rois, 56),
                             tv_roi_heads.keypoints_to_heatmap(keypoints, rois, 56)):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    logits = torch.randn(3, 17, 56, 56, generator=generator, dtype=torch.float64, requires_grad=True)
    matched = [torch.tensor([1, 0, 2])]
    loss = keypointrcnn_loss(logits, [rois], [keypoints], matched)
    torch.testing.assert_close(loss, tv_roi_heads.keypointrcnn_loss(logits, [rois], [keypoints], matched), rtol=0,
                               atol=0)
    invisible = keypoints.clone()
    invisible[..., 2] = 0  # nothing valid: 0, still connected to the logits
    assert keypointrcnn_loss(logits, [rois], [invisible], matched).item() == 0
    maps = torch.randn(3, 17, 56, 56, generator=generator)
    for got, expected in zip(heatmaps_to_keypoints(maps, rois.float()),
                             tv_roi_heads.heatmaps_to_keypoints(maps, rois.float())):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_the_builder_initialises_as_torchvisions_with_the_same_seed():
    torch.manual_seed(0)
    reference = tv_keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    torch.manual_seed(0)
    ours = maskrcnn.keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (name, a), b in zip(reference.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), name  # the same numbers drawn in the same order
    assert ours.transform.min_size == reference.transform.min_size and ours.roi_heads.has_keypoint()


def test_torchvisions_expected_output_test_settings_give_torchvisions_outputs():
    """torchvision's expected-output test of ``keypointrcnn_resnet50_fpn`` (its test_models.py: seed 0, no weights,
    ``num_classes=2``, 224 px, ``box_score_thresh=0.17``, float32, one 224 x 224 photo). Its expected file and photo
    are not on this machine, so torchvision's own model under the same settings, on a photo-like image, gives the
    expected outputs; ours, built the same way, must give them to torchvision's test tolerance (0.01)."""
    settings = {"num_classes": 2, "min_size": 224, "max_size": 224, "box_score_thresh": 0.17,
                "weights_backbone": None}
    torch.manual_seed(0)
    reference = tv_keypointrcnn_resnet50_fpn(weights=None, **settings).eval()
    torch.manual_seed(0)
    ours = maskrcnn.keypointrcnn_resnet50_fpn(weights=None, **settings).eval()
    image = photo_like_images([(224, 224)], dtype=torch.float32)
    with torch.no_grad():
        expected, got = reference(image)[0], ours(image)[0]
    assert sorted(got) == sorted(expected) and len(expected["boxes"]) > 0
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0.01, atol=0.01, msg=key)


def model_pair():
    """torchvision's KeypointRCNN and ours on a ResNet-18-FPN (the keypoint branch at full width), each built after
    the same seed, float64."""
    from torchvision.models.detection import KeypointRCNN as TvKeypointRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone
    torch.manual_seed(0)
    reference = TvKeypointRCNN(tv_resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5),
                               num_classes=2, **SETTINGS)
    torch.manual_seed(0)
    ours = maskrcnn.KeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None,
                                                              trainable_layers=5), num_classes=2, **SETTINGS)
    return reference.double(), ours.double()


def test_whole_model_in_float64_equals_torchvision_in_eval_and_in_training_with_an_image_without_people():
    reference, ours = model_pair()
    for (name, a), b in zip(reference.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), name
    images = photo_like_images(SIZES)
    reference.eval()
    ours.eval()
    with torch.no_grad():
        expected, got = reference(images), ours(images)
    for e, g in zip(expected, got):
        assert sorted(g) == sorted(e) == ["boxes", "keypoints", "keypoints_scores", "labels", "scores"]
        assert len(e["boxes"]) == 3
        for key in e:
            torch.testing.assert_close(g[key], e[key], rtol=1e-6, atol=1e-6, msg=key)
    maskrcnn.optimize(ours)  # the fast form (fused keypoint head too) trains as torchvision's plain model does
    assert {"roi_heads.keypoint_head", "roi_heads.keypoint_roi_pool"} <= set(optimized_modules(ours))
    generator = torch.Generator().manual_seed(3)
    targets = []
    for k, (h, w) in enumerate(SIZES):
        boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.6 * w, 0.7 * h], [0.5 * w, 0.3 * h, 0.95 * w, 0.9 * h]],
                             dtype=torch.float64).round()
        if k == 1:  # an image without people
            boxes = boxes[:0]
        targets.append({"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64),
                        "keypoints": keypoints_in(boxes, generator).float()})
    losses = assert_same_training_step(ours, reference, images, targets, rtol=0, atol=1e-6)
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_keypoint", "loss_objectness",
                              "loss_rpn_box_reg"]
    assert losses["loss_keypoint"] > 0


def test_drop_in_names_defaults_and_errors():
    from maskrcnn import keypoint_rcnn
    assert keypoint_rcnn.keypointrcnn_resnet50_fpn is maskrcnn.keypointrcnn_resnet50_fpn
    assert maskrcnn.KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.meta["keypoint_names"][0] == "nose"
    model = maskrcnn.KeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None), num_classes=3,
                                  num_keypoints=5)
    assert model.transform.min_size == (640, 672, 704, 736, 768, 800)
    assert model.roi_heads.keypoint_predictor.out_channels == 5
    model.transform.min_size, model.roi_heads.detections_per_img = (96,), 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
        scripted = torch.jit.script(model.eval())
    images = [torch.rand(3, 100, 110, generator=torch.Generator().manual_seed(4))]
    with torch.no_grad():
        eager, (_, from_script) = model(images), scripted(images)
    for key, value in eager[0].items():  # scripted as torchvision's is, with the same outputs
        assert torch.equal(from_script[0][key], value), key
    with pytest.raises(ValueError, match="num_keypoints should be None"):
        maskrcnn.KeypointRCNN(model.backbone, num_classes=3, num_keypoints=5,
                              keypoint_predictor=model.roi_heads.keypoint_predictor)
    with pytest.raises(ValueError, match="'num_keypoints' expected value 17"):
        maskrcnn.keypointrcnn_resnet50_fpn(weights="DEFAULT", num_keypoints=5)
    model.train()
    with pytest.raises(TypeError, match="target keypoints must of float type"):
        model([torch.rand(3, 64, 64)], [{"boxes": torch.tensor([[1.0, 1.0, 20.0, 20.0]]), "labels": torch.tensor([1]),
                                          "keypoints": torch.zeros(1, 5, 3, dtype=torch.float64)}])


def test_a_batch_without_people_gives_zero_box_and_keypoint_losses():
    # torchvision's negative-sample test, on a small backbone: no object, so nothing to regress or to locate
    torch.manual_seed(0)
    model = maskrcnn.KeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None), num_classes=2,
                                  min_size=100, max_size=100)
    boxes = torch.zeros(0, 4)
    target = {"boxes": boxes, "labels": torch.zeros(0, dtype=torch.int64), "keypoints": torch.zeros(17, 0, 3)}
    losses = model.train()([torch.rand(3, 100, 100)], [target])
    for name in ("loss_box_reg", "loss_rpn_box_reg", "loss_keypoint"):
        assert losses[name].item() == 0.0, name
    assert losses["loss_classifier"] > 0 and losses["loss_objectness"] > 0
