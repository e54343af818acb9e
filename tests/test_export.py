"""Export for deployment: TorchScript scripting, and ONNX files that onnxruntime runs to eager's outputs.

The ONNX graphs are traced at one size and run at others (the sizes must stay traced values for that to hold), with
a number of detections that varies, and with none at all. Small images (min_size <= 320) keep this quick; the
full-size comparison on photo-like images is ``python tools/benchmark.py export``.
"""
import json
import os

import onnx
import pytest
import torch
from torchvision.models import detection as tv_detection

import maskrcnn
from dataset import coco2017_paths
from maskrcnn import testing
from maskrcnn.export import (
    MIN_OPSET,
    OUTPUT_NAMES,
    DetectorForExport,
    ExportError,
    OnnxDetector,
    check_opset,
    export_onnx,
    read_metadata,
)

from tests.model_fixtures import (
    QUICK,
    assert_reproduces,
    photo_like_images,
    random_images,
    spread_score_checkpoint,
    targets_for,
)
from tests.tool_runner import refused, tool

#: Sizes other than the trace size (maskrcnn.export.TRACE_SIZE, 480 x 640), across both resize regimes (short side
#: limited by min_size, long side limited by max_size) and both orientations.
CHECK_SIZES = [(240, 300), (150, 400), (330, 200)]


# ------------------------------------------------------------------------------------------------- TorchScript
def detector_pair(masks: bool = True):
    """torchvision's R50-FPN detector (seeded random weights) and ours with its state_dict, float64, small images."""
    name = "maskrcnn_resnet50_fpn" if masks else "fasterrcnn_resnet50_fpn"
    torch.manual_seed(0)
    reference = getattr(tv_detection, name)(weights=None, weights_backbone=None, **QUICK)
    ours = getattr(maskrcnn, name)(weights_backbone=None, **QUICK)
    ours.load_state_dict(reference.state_dict())
    return ours.double(), reference.double()


@pytest.mark.parametrize("masks", [True, False])
def test_the_scripted_model_gives_eager_outputs_and_torchvision_scripted_outputs(masks):
    """``torch.jit.script`` works on the plain model; scripted, it returns ``(losses, detections)`` as torchvision's
    scripted model does, with eager's detections, and torchvision's scripted model agrees on the same weights."""
    ours, reference = (model.eval() for model in detector_pair(masks))
    scripted, scripted_reference = torch.jit.script(ours), torch.jit.script(reference)
    images = photo_like_images([(200, 260), (230, 190)])
    with torch.no_grad():
        eager = ours(images)
        losses, detections = scripted(images)
        _, reference_detections = scripted_reference(images)
    assert losses == {}
    keys = ["boxes", "labels", "scores"] + (["masks"] if masks else [])
    for mine, script, theirs in zip(eager, detections, reference_detections):
        assert sorted(script) == sorted(mine) == sorted(keys)
        assert len(mine["boxes"]) > 0
        for key in keys:
            torch.testing.assert_close(script[key], mine[key], rtol=0, atol=0)
            # torchvision's scripted normalize rounds mean and std through float32 (1e-8 relative): up to 1e-6 here
            torch.testing.assert_close(script[key], theirs[key], rtol=1e-5, atol=1e-5)


def test_the_scripted_model_trains_like_the_eager_one():
    ours, _ = detector_pair()
    ours.train()
    scripted = torch.jit.script(ours)
    images = photo_like_images([(200, 260), (230, 190)])
    targets = targets_for([(200, 260), (230, 190)])
    torch.manual_seed(5)
    eager_losses = ours(images, targets)
    torch.manual_seed(5)
    script_losses, detections = scripted(images, targets)
    assert detections == [] and sorted(script_losses) == sorted(eager_losses)
    for name, value in eager_losses.items():
        torch.testing.assert_close(script_losses[name], value, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------------- ONNX
@pytest.fixture(scope="module")
def resnet50_onnx(tmp_path_factory):
    """A torchvision-layout R50-FPN Mask R-CNN (seeded, untrained) at min_size 200, exported once."""
    torch.manual_seed(0)
    model = maskrcnn.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=5, min_size=200,
                                           max_size=320).eval()
    path = tmp_path_factory.mktemp("onnx") / "r50.onnx"
    export_onnx(model, path, categories={"ids": [0, 1, 2, 3, 4], "names": ["bg", "a", "b", "c", "d"]})
    return model, path


def test_the_onnx_model_reproduces_eager_at_sizes_it_was_not_traced_at(resnet50_onnx):
    model, path = resnet50_onnx
    detector = OnnxDetector(path)
    found = assert_reproduces(model, detector, photo_like_images(CHECK_SIZES, seed=4, dtype=torch.float32))
    assert min(found) > 0
    graph = onnx.load(str(path))
    ops = {node.op_type for node in graph.graph.node}
    nested = {n.op_type for node in graph.graph.node for a in node.attribute if a.g for n in a.g.node}
    assert "RoiAlign" in ops and "NonMaxSuppression" in ops | nested
    assert {i.name for i in graph.graph.input} == {"images"}
    assert [o.name for o in graph.graph.output] == ["boxes", "labels", "scores", "masks"]
    metadata = read_metadata(path)
    assert metadata["categories"]["names"] == ["bg", "a", "b", "c", "d"]
    assert metadata["score_thresh"] == 0.05 and metadata["min_size"] == 200 and metadata["max_size"] == 320


@pytest.mark.parametrize("kind", ["masks", "boxes", "keypoints"])
def test_a_varying_number_of_detections_and_none(tmp_path, kind):
    """A trained-like small model (spread class scores, threshold 0.9): the count differs from image to image; the
    same model with its background always winning detects nothing, and its graph returns empty outputs. A Keypoint
    R-CNN's graph loops over its detections (each heatmap resized to its own box): keypoints within 1e-3 px."""
    masks, keypoints = kind == "masks", 4 if kind == "keypoints" else 0
    model = spread_score_checkpoint(tmp_path / "model.pth", masks=masks, keypoints=keypoints).eval()
    # 67 to 82 detections on these images (masks, boxes), 55 to 100 (keypoints: the seeded weights differ)
    model.roi_heads.score_thresh = 0.995 if keypoints else 0.9
    export_onnx(model, tmp_path / "model.onnx")
    images = random_images([(120, 150), (80, 200), (170, 110), (64, 64)], dtype=torch.float32)
    found = assert_reproduces(model, OnnxDetector(tmp_path / "model.onnx"), images)
    assert len(set(found)) > 1 and min(found) > 0

    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[0] = 1e4
    export_onnx(model, tmp_path / "empty.onnx")
    detector = OnnxDetector(tmp_path / "empty.onnx")
    for image in images[:3]:
        outputs = detector([image])[0]
        height, width = image.shape[-2:]
        assert outputs["boxes"].shape == (0, 4) and outputs["labels"].dtype == torch.int64
        assert outputs["scores"].shape == (0,)
        assert ("masks" in outputs) == masks and ("keypoints" in outputs) == bool(keypoints)
        if keypoints:
            assert outputs["keypoints"].shape == (0, 4, 3) and outputs["keypoints_scores"].shape == (0, 4)
        if masks:
            assert outputs["masks"].shape == (0, 1, height, width)


def test_bad_opsets_are_one_clear_line():
    check_opset(MIN_OPSET)
    with pytest.raises(ExportError, match=r"opset 11 is too old: .* use an opset from 16 to \d+"):
        check_opset(11)
    with pytest.raises(ExportError, match=r"opset 99 is newer than this torch's exporter writes"):
        check_opset(99)


# --------------------------------------------------------------------------------------------------- the tools
def test_export_tool_and_predict_with_onnxruntime(tiny_shapes, tmp_path):
    """export.py writes the file (its categories in the metadata) and checks it; predict.py --weights model.onnx
    writes the JSON eager PyTorch writes; asking it for a threshold under the baked-in one is one line."""
    weights = tmp_path / "model.pth"
    spread_score_checkpoint(weights)
    image_dir = coco2017_paths(tiny_shapes, "val")[0]
    image = os.path.join(image_dir, sorted(os.listdir(image_dir))[0])
    onnx_path = tmp_path / "model.onnx"
    done = tool("export.py", "--weights", weights, "--out", onnx_path, "--score-thresh", "0.6", "--check", image)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"-> {onnx_path} (" in done.stdout and "score > 0.6" in done.stdout
    assert "detections reproduced" in done.stdout
    assert read_metadata(onnx_path)["categories"]["names"][1:] == ["square", "circle", "triangle", "star"]

    for source, out in ((weights, tmp_path / "eager"), (onnx_path, tmp_path / "onnx")):
        runtime = ("--runtime", "onnxruntime") if str(source).endswith(".onnx") else ()
        done = tool("predict.py", image_dir, "--weights", source, "--score-thresh", "0.6", "--out", out, "--no-draw",
                    *runtime)
        assert done.returncode == 0, done.stderr[-2000:]
    compared = 0
    for eager_file in sorted((tmp_path / "eager").iterdir()):
        eager = json.loads(eager_file.read_text())["instances"]
        exported = json.loads((tmp_path / "onnx" / eager_file.name).read_text())["instances"]
        assert [i["label"] for i in exported] == [i["label"] for i in eager]
        assert [i["name"] for i in exported] == [i["name"] for i in eager]
        for a, b in zip(exported, eager):
            assert abs(a["score"] - b["score"]) < 1e-4
            assert max(abs(x - y) for x, y in zip(a["box"], b["box"])) < 0.05
        compared += len(eager)
    assert compared > 0

    lower = refused("predict.py", image, "--weights", onnx_path, "--score-thresh", "0.3", "--out", tmp_path / "x",
                    "--runtime", "onnxruntime")
    assert lower.returncode == 2 and "exported with score > 0.6 baked in" in lower.stderr
    assert len(lower.stderr.strip().splitlines()) == 1 and "Traceback" not in lower.stderr


def test_torch_export_captures_the_model_at_a_fixed_size(tmp_path):
    """``torch.export.export`` captures the plain model (torchvision's stops at its batched_nms's branch on the
    number of boxes); the captured program gives eager's outputs on another image of the same size."""
    model = spread_score_checkpoint(tmp_path / "model.pth").eval()
    model.roi_heads.score_thresh = 0.9
    first, second = random_images([(100, 130), (100, 130)], dtype=torch.float32)
    program = torch.export.export(DetectorForExport(model).eval(), (first,), strict=False)
    with torch.no_grad():
        eager = model([second])[0]
    captured = program.module()(second)
    assert len(eager["boxes"]) > 0
    for name, value in zip(OUTPUT_NAMES, captured):
        torch.testing.assert_close(value, eager[name], rtol=1e-5, atol=1e-5)


def test_the_batch_graph_equals_one_image_at_a_time(tmp_path):
    """``batch=True``: images [B, 3, H, W] in, any B, H and W; each image's detections (told by batch_index) equal
    the one-image graph's on that image."""
    model = spread_score_checkpoint(tmp_path / "model.pth").eval()
    model.roi_heads.score_thresh = 0.9
    export_onnx(model, tmp_path / "one.onnx")
    export_onnx(model, tmp_path / "batch.onnx", batch=True)
    one, batch = OnnxDetector(tmp_path / "one.onnx"), OnnxDetector(tmp_path / "batch.onnx")
    assert batch.batched and not one.batched and read_metadata(tmp_path / "batch.onnx")["batch"] is True
    images = random_images([(120, 150)] * 3 + [(90, 200)] + [(64, 64)] * 2, dtype=torch.float32)
    raw = batch.session.run(None, {"images": torch.stack(images[:3]).numpy()})
    assert raw[-1].tolist() == sorted(raw[-1].tolist()) and set(raw[-1].tolist()) == {0, 1, 2}
    for alone, together in zip(one(images), batch(images)):
        assert together.keys() == alone.keys() and len(alone["boxes"]) > 0
        for name, value in alone.items():
            torch.testing.assert_close(together[name], value, rtol=1e-5, atol=1e-5)  # float32 rounding


def test_a_keypoint_batch_graph_reproduces_eager(tmp_path):
    """The batch graph's loop over images holds the keypoint graph's loop over detections: both run."""
    from maskrcnn.export import agreement
    model = spread_score_checkpoint(tmp_path / "model.pth", keypoints=4).eval()
    model.roi_heads.score_thresh = 0.995
    export_onnx(model, tmp_path / "batch.onnx", batch=True)
    images = random_images([(120, 150)] * 2, dtype=torch.float32)
    for image, output in zip(images, OnnxDetector(tmp_path / "batch.onnx")(images)):
        with torch.no_grad():
            result = agreement(model([image])[0], output)
        assert result.reference > 0 and result.fraction == 1 and result.keypoint_max_distance < 1e-3, result.summary()


def test_v2_scripts_and_exports(tmp_path):
    """maskrcnn_resnet50_fpn_v2 (trained-like: spread scores; an untrained v2 scores hundreds of boxes exactly 1.0,
    whose order among equals no two NMS implementations share) scripts to eager's outputs and exports to a file that
    reproduces them at a size other than the trace size."""
    _, model = testing.pretrained_like_pair_v2(0, num_classes=5, **QUICK)
    model.eval()
    images = photo_like_images([(150, 400)], seed=4, dtype=torch.float32)
    with torch.no_grad():
        eager = model(images)
        _, scripted = torch.jit.script(model)(images)
    for mine, script in zip(eager, scripted):
        for key, value in mine.items():
            torch.testing.assert_close(script[key], value, rtol=0, atol=0)
    export_onnx(model, tmp_path / "v2.onnx")
    assert_reproduces(model, OnnxDetector(tmp_path / "v2.onnx"), images)
