"""torchvision's weights API, drop-in: enums, their names, files, defaults, the cache, the offline error.

Files are written by the tests under the names torchvision uses, into a temporary TORCH_HOME (nothing is
downloaded); "offline" is a proxy on a closed local port, so the test does not depend on the machine's network.
"""
import json
import os
import warnings

import pytest
import torch
import torchvision
from torchvision.models import detection as tvd

import maskrcnn
from maskrcnn.testing import CLASSIFIER_SCALE, randomise_batch_norm

from tests.model_fixtures import photo_like_images
from tests.tool_runner import refused, tool

#: Small images, few proposals and detections: the comparisons run in float64, whose convolutions are slow.
SMALL = dict(min_size=160, max_size=200, rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
             box_detections_per_img=40)
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME, offline: whatever is not written into it cannot be had."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)
    os.makedirs(tmp_path / "torch" / "hub" / "checkpoints")
    return tmp_path / "torch"


def place(weights, model: torch.nn.Module) -> None:
    """Saves ``model``'s state_dict where torch.hub keeps ``weights``' file."""
    torch.save(model.state_dict(), maskrcnn.weights.cached_file(weights))


def trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights that score like a trained model's: batch norm statistics and spread class scores."""
    randomise_batch_norm(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(CLASSIFIER_SCALE)
    return model


def assert_same_detections(ours, reference, images):
    with torch.no_grad():
        expected, actual = reference.double().eval()(images), ours.double().eval()(images)
    for x, y in zip(actual, expected):
        assert len(y["boxes"]) > 0
        for key in y:
            torch.testing.assert_close(x[key], y[key], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, tv_builder, weights_class", [
    ("maskrcnn_resnet50_fpn", tvd.maskrcnn_resnet50_fpn, tvd.MaskRCNN_ResNet50_FPN_Weights),
    ("maskrcnn_resnet50_fpn_v2", tvd.maskrcnn_resnet50_fpn_v2, tvd.MaskRCNN_ResNet50_FPN_V2_Weights),
    ("fasterrcnn_mobilenet_v3_large_fpn", tvd.fasterrcnn_mobilenet_v3_large_fpn,
     tvd.FasterRCNN_MobileNet_V3_Large_FPN_Weights),
    ("keypointrcnn_resnet50_fpn", tvd.keypointrcnn_resnet50_fpn, tvd.KeypointRCNN_ResNet50_FPN_Weights),
])
def test_default_weights_give_torchvisions_outputs_from_the_same_cached_file(torch_home, name, tv_builder,
                                                                             weights_class):
    # the keypoint head is eight 512-wide convolutions per detection: a few detections (of any score) are enough
    settings = {**SMALL, "box_detections_per_img": 4, "box_score_thresh": 0.001} if name.startswith("keypoint") else SMALL
    torch.manual_seed(0)
    place(weights_class.DEFAULT, trained_like(tv_builder(weights=None, weights_backbone=None)))
    reference = tv_builder(weights="DEFAULT", **settings)
    for weights in ("DEFAULT", weights_class.COCO_V1):
        ours = getattr(maskrcnn, name)(weights=weights, **settings)
        assert ours.meta["categories"] == weights_class.DEFAULT.meta["categories"]
        assert [n for n, p in ours.named_parameters() if p.requires_grad] == \
            [n for n, p in reference.named_parameters() if p.requires_grad]
    if name in ("maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"):  # COCO v1 files: frozen batch norm eps 0
        assert ours.backbone.body.bn1.eps == reference.backbone.body.bn1.eps == 0.0
    assert_same_detections(ours, reference, photo_like_images([(150, 190)]))


def test_bare_builders_equal_torchvisions_default_build(torch_home):
    for weights, network in ((torchvision.models.ResNet50_Weights.IMAGENET1K_V1, torchvision.models.resnet50),
                             (torchvision.models.MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                              torchvision.models.mobilenet_v3_large)):
        torch.manual_seed(1)
        place(weights, network(weights=None))
    for name in ("maskrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn"):
        torch.manual_seed(0)
        reference = getattr(tvd, name)()
        torch.manual_seed(0)
        ours = getattr(maskrcnn, name)()
        assert ours.state_dict().keys() == reference.state_dict().keys()
        for (key, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
            assert torch.equal(a, b), key
        assert [n for n, p in ours.named_parameters() if p.requires_grad] == \
            [n for n, p in reference.named_parameters() if p.requires_grad]
        assert type(ours.backbone.body["0"][1] if "mobilenet" in name else ours.backbone.body.bn1).__name__ == \
            "FrozenBatchNorm2d"
        assert repr(ours.transform) == repr(reference.transform)
    assert sum(p.requires_grad for p in maskrcnn.maskrcnn_resnet50_fpn().parameters()) == 84
    # the ImageNet weights by name or enum, in the ResNet builders too
    a = maskrcnn.resnet50(weights="IMAGENET1K_V1")
    b = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.meta["categories"][0] == "tench"


def test_legacy_interface_and_wrong_enums_as_in_torchvision(torch_home):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        maskrcnn.maskrcnn_resnet50_fpn(pretrained=False, pretrained_backbone=False)
        backbone = maskrcnn.resnet_fpn_backbone("resnet18", None)
    assert any("'pretrained' is deprecated" in str(w.message) for w in caught)
    assert any("as positional parameter(s) is deprecated" in str(w.message) for w in caught)
    assert isinstance(backbone.body.bn1, maskrcnn.FrozenBatchNorm2d)
    for builder in (maskrcnn.maskrcnn_resnet50_fpn, tvd.maskrcnn_resnet50_fpn):
        with pytest.raises(TypeError, match="expected MaskRCNN_ResNet50_FPN_Weights but received"):
            builder(weights=tvd.FasterRCNN_ResNet50_FPN_Weights.DEFAULT)
        with pytest.raises(ValueError, match="'num_classes' expected value 91 but got 5"):
            builder(weights="DEFAULT", num_classes=5)
    with pytest.raises(ValueError, match="No weights available"):
        maskrcnn.maskrcnn_mobilenet_v3_large_fpn(pretrained=True)
    with pytest.raises(maskrcnn.CheckpointError, match="weights file not found: BOGUS .*DEFAULT, COCO_V1"):
        maskrcnn.maskrcnn_resnet50_fpn(weights="BOGUS")


def write_photo(path) -> None:
    import cv2
    image = (photo_like_images([(120, 160)])[0].permute(1, 2, 0).numpy() * 255).astype("uint8")
    cv2.imwrite(str(path), image)


def test_offline_with_an_empty_cache_is_one_line_naming_the_url_and_the_path(torch_home, tmp_path):
    path = torch_home / "hub" / "checkpoints" / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
    with pytest.raises(maskrcnn.WeightsUnavailableError) as error:
        maskrcnn.maskrcnn_resnet50_fpn(weights="DEFAULT")
    message = str(error.value)
    assert "\n" not in message
    assert tvd.MaskRCNN_ResNet50_FPN_Weights.COCO_V1.url in message and str(path) in message
    assert "weights_backbone=None" in message
    with pytest.raises(maskrcnn.WeightsUnavailableError, match="resnet50-0676ba61.pth"):
        maskrcnn.maskrcnn_resnet50_fpn()
    assert not path.exists()
    # every tool: one error line naming the URL, exit 2, no traceback
    write_photo(tmp_path / "photo.jpg")
    for name, extra in (("predict.py", [tmp_path / "photo.jpg"]), ("eval.py", []), ("export.py", []),
                        ("inspect_model.py", [tmp_path / "photo.jpg"])):
        done = refused(name, *extra, "--weights", "DEFAULT")
        assert done.returncode == 2, (name, done.stderr[-1000:])
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot download") and str(path) in last, (name, done.stderr)
        assert "Traceback" not in done.stderr
    done = refused("train.py", "--weights-backbone", "DEFAULT", "--epochs", "1")
    assert done.returncode == 2 and "resnet18-f37072fd.pth" in done.stderr.strip().splitlines()[-1], done.stderr


def test_predict_with_default_weights_writes_coco_names(torch_home, tmp_path):
    torch.manual_seed(0)
    place(tvd.MaskRCNN_ResNet50_FPN_Weights.DEFAULT,
          trained_like(tvd.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)))
    write_photo(tmp_path / "photo.jpg")
    done = tool("predict.py", tmp_path / "photo.jpg", "--weights", "DEFAULT", "--out", tmp_path / "out",
                env={"TORCH_HOME": str(torch_home), **OFFLINE})
    assert done.returncode == 0, done.stderr[-2000:]
    instances = json.loads((tmp_path / "out" / "photo.json").read_text())["instances"]
    categories = tvd.MaskRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    assert instances and all(i["name"] == categories[i["label"]] for i in instances)
    assert {i["name"] for i in instances} <= set(categories[1:]) - {"N/A"}
