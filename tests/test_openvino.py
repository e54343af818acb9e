"""Deployment with OpenVINO: the exported .onnx and OpenVINO's own IR reproduce eager PyTorch at float32, one image
or a batch graph, with detections or none; the tools export IR, predict a folder on async requests, evaluate the
deployed file to the checkpoint's figures, and refuse bad input in one line."""
import json
import shutil
import sys

import onnx
import pytest
import torch

from dataset import coco2017_paths
from maskrcnn.export import (
    EXPORT_FORMAT,
    ExportError,
    OpenVinoDetector,
    convert_to_openvino,
    export_onnx,
    read_metadata,
)
from maskrcnn.testing import match_detections
from visualization import write_rgb

from tests.model_fixtures import assert_reproduces, random_images, spread_score_checkpoint
from tests.tool_runner import in_process, refused, tool

openvino = pytest.importorskip("openvino")  # the openvino extra; .ci/run installs it


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small trained-like model (spread class scores), its .onnx and the OpenVINO IR converted from it."""
    folder = tmp_path_factory.mktemp("openvino")
    model = spread_score_checkpoint(folder / "model.pth").eval()
    model.roi_heads.score_thresh = 0.9  # dozens of detections per image, a different count on each
    export_onnx(model, folder / "model.onnx", categories={"ids": list(range(5)), "names": list("babcd")})
    convert_to_openvino(folder / "model.onnx", folder / "model.xml")
    return model, folder


IMAGES = [(120, 150), (80, 200), (170, 110), (64, 64)]


@pytest.mark.parametrize("name", ["model.onnx", "model.xml"])
def test_openvino_float32_reproduces_eager_from_onnx_and_from_ir(exported, name):
    model, folder = exported
    detector = OpenVinoDetector(folder / name, precision="f32")
    assert detector.precision == "f32"
    assert detector.metadata["categories"]["names"] == list("babcd")
    assert detector.metadata["export_format"] == EXPORT_FORMAT
    found = assert_reproduces(model, detector, random_images(IMAGES, dtype=torch.float32))
    assert len(set(found)) > 1 and min(found) > 0
    many = detector(random_images(IMAGES, dtype=torch.float32))  # one call, the images on the async queue
    for image, output in zip(random_images(IMAGES, dtype=torch.float32), many):
        torch.testing.assert_close(output["boxes"], detector([image])[0]["boxes"])


def test_a_keypoint_rcnn_ir_reproduces_eager_keypoints(tmp_path):
    """The keypoint graph's loop over detections (each heatmap resized to its box) runs in OpenVINO: the same
    detections, keypoints within 1e-3 px."""
    model = spread_score_checkpoint(tmp_path / "keypoints.pth", keypoints=4).eval()
    model.roi_heads.score_thresh = 0.995  # 55 to 100 detections on these images
    export_onnx(model, tmp_path / "keypoints.onnx")
    convert_to_openvino(tmp_path / "keypoints.onnx", tmp_path / "keypoints.xml")
    detector = OpenVinoDetector(tmp_path / "keypoints.xml", precision="f32")
    found = assert_reproduces(model, detector, random_images(IMAGES[:2], dtype=torch.float32))
    assert min(found) > 0 and detector.metadata["keypoints"] is True


def test_no_detections_run_and_a_batch_graph_is_refused_in_one_line(exported, tmp_path):
    model, _ = exported
    empty = spread_score_checkpoint(tmp_path / "empty.pth").eval()
    with torch.no_grad():
        empty.roi_heads.box_predictor.cls_score.bias[0] = 1e4  # the background always wins
    export_onnx(empty, tmp_path / "empty.onnx")
    for output, (height, width) in zip(OpenVinoDetector(tmp_path / "empty.onnx", "f32")(
            random_images(IMAGES[:2], dtype=torch.float32)), IMAGES[:2]):
        assert output["boxes"].shape == (0, 4) and output["labels"].dtype == torch.int64
        assert output["masks"].shape == (0, 1, height, width)
    export_onnx(model, tmp_path / "batch.onnx", batch=True)
    with pytest.raises(ExportError, match=r"is a batch graph: OpenVINO .* export the one-image graph \(batch=False\)"):
        OpenVinoDetector(tmp_path / "batch.onnx")


def a_photo(folder) -> str:
    path = str(folder / "photo.png")
    write_rgb(path, (random_images([(90, 120)])[0].permute(1, 2, 0).numpy() * 255).astype("uint8"))
    return path


def test_auto_precision_is_openvinos_choice_and_bf16_needs_the_cpu(exported, tmp_path):
    _, folder = exported
    capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    auto = OpenVinoDetector(folder / "model.xml")
    assert auto.precision == ("bf16" if "BF16" in capabilities else "f32")
    done = tool("predict.py", a_photo(tmp_path), "--weights", folder / "model.xml", "--precision", "bf16",
                "--score-thresh", "0.9", "--out", tmp_path / "bf16")
    if "BF16" in capabilities:
        assert done.returncode == 0 and "precision bf16" in done.stdout.splitlines()[0]
    else:
        assert done.returncode == 2 and "has no native bfloat16" in done.stderr


def test_export_tool_writes_ir_and_predict_runs_a_folder_on_async_requests_as_eager(exported, tiny_shapes, tmp_path):
    _, folder = exported
    image_dir = coco2017_paths(tiny_shapes, "val")[0]
    xml = tmp_path / "ir" / "model.xml"
    done = tool("export.py", "--weights", folder / "model.pth", "--format", "openvino", "--out", xml,
                "--score-thresh", "0.6")
    assert done.returncode == 0, done.stderr[-2000:]
    assert xml.exists() and xml.with_suffix(".bin").exists() and "OpenVINO IR" in done.stdout
    assert not list((tmp_path / "ir").glob("*.onnx")), "the intermediate ONNX file is removed"
    runs = {"eager": (folder / "model.pth",), "openvino": (xml, "--precision", "f32")}
    for out, (weights, *options) in runs.items():
        done = tool("predict.py", image_dir, "--weights", weights, "--score-thresh", "0.6", "--out", tmp_path / out,
                    "--no-draw", "--workers", 0, *options)
        assert done.returncode == 0, done.stderr[-2000:]
        if out == "openvino":
            first = done.stdout.splitlines()[0]
            assert "OpenVINO, precision f32" in first and "async requests" in first
    compared = matched = 0
    for eager_file in sorted((tmp_path / "eager").iterdir()):
        eager = detections(json.loads(eager_file.read_text())["instances"])
        deployed = detections(json.loads((tmp_path / "openvino" / eager_file.name).read_text())["instances"])
        # random-like weights score many boxes alike: a near-tie may swap at the 100-detection cut, so match
        pairs = match_detections(deployed, eager, iou_thresh=0.99)
        assert abs(len(deployed["boxes"]) - len(eager["boxes"])) <= max(1, len(eager["boxes"]) // 50)
        if pairs:
            i, j = (list(index) for index in zip(*pairs))
            torch.testing.assert_close(deployed["scores"][i], eager["scores"][j], rtol=0, atol=2e-4)  # JSON: 4 decimals
        compared, matched = compared + len(eager["boxes"]), matched + len(pairs)
    assert compared > 0 and matched >= 0.98 * compared


def detections(instances: list) -> dict:
    """predict.py's JSON instances as the tensors :func:`match_detections` takes."""
    return {"boxes": torch.tensor([i["box"] for i in instances]).reshape(-1, 4),
            "labels": torch.tensor([i["label"] for i in instances], dtype=torch.int64),
            "scores": torch.tensor([i["score"] for i in instances])}


def test_eval_of_the_deployed_file_gives_the_checkpoints_figures(tiny_shapes, tmp_path):
    """A model with spread scores (100 detections an image, some on the objects by chance), exported at the model's
    own threshold (0.05): onnxruntime and float32 OpenVINO give every COCO figure of the checkpoint within 0.002."""
    weights = tmp_path / "model.pth"
    spread_score_checkpoint(weights)
    assert tool("export.py", "--weights", weights, "--out", tmp_path / "m.onnx", "--score-thresh", "0.05").returncode == 0
    convert_to_openvino(tmp_path / "m.onnx", tmp_path / "m.xml")
    figures = {}
    for name, (source, *options) in {"pth": (weights,), "onnxruntime": (tmp_path / "m.onnx", "--runtime", "onnxruntime"),
                                     "openvino": (tmp_path / "m.xml", "--precision", "f32")}.items():
        done = tool("eval.py", "--weights", source, "--data-root", tiny_shapes, "--workers", 0, "--out",
                    tmp_path / name, *options)
        assert done.returncode == 0, done.stderr[-2000:]
        figures[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert max(v for t in ("bbox", "segm") for v in figures["pth"][t].values() if isinstance(v, float)) > 0, \
        "the trained model should find something"
    for name in ("onnxruntime", "openvino"):
        for iou_type in ("bbox", "segm"):
            for stat, value in figures["pth"][iou_type].items():
                if isinstance(value, float):
                    assert abs(figures[name][iou_type][stat] - value) <= 0.002, (name, iou_type, stat)


def test_bad_input_is_one_line(exported, tmp_path, monkeypatch):
    _, folder = exported
    image = a_photo(tmp_path)
    alone = tmp_path / "alone.xml"
    shutil.copy(folder / "model.xml", alone)  # without its .bin
    newer = onnx.load(str(folder / "model.onnx"))
    for entry in newer.metadata_props:
        if entry.key == "export_format":
            entry.value = json.dumps(EXPORT_FORMAT + 1)
    onnx.save(newer, str(tmp_path / "newer.onnx"))
    assert read_metadata(tmp_path / "newer.onnx")["export_format"] == EXPORT_FORMAT + 1
    cases = {
        "alone.xml": ([alone], "its weights", "are missing"),
        "newer, openvino": ([tmp_path / "newer.onnx"], "written by another version of the exporter", ""),
        "newer, onnxruntime": ([tmp_path / "newer.onnx", "--runtime", "onnxruntime"], "another version", ""),
        "xml on onnxruntime": ([folder / "model.xml", "--runtime", "onnxruntime"], "runs with runtime openvino", ""),
        "bf16 on onnxruntime": ([folder / "model.onnx", "--runtime", "onnxruntime", "--precision", "bf16"],
                                "onnxruntime runs float32", ""),
        "precision on a checkpoint": ([folder / "model.pth", "--precision", "f32"], "goes with an exported model", ""),
    }
    for name, (weights, *expected) in cases.items():
        done = refused("predict.py", image, "--weights", *weights, "--out", tmp_path / "out")
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
        assert all(text in done.stderr for text in expected), (name, done.stderr)
    monkeypatch.setitem(sys.modules, "openvino", None)  # as without the extra
    done = in_process("export.py", "--weights", folder / "model.pth", "--format", "openvino", "--out", tmp_path / "x.xml")
    assert done.returncode == 2 and 'pip install -e ".[openvino]"' in done.stderr
    done = in_process("predict.py", image, "--weights", folder / "model.xml", "--out", tmp_path / "o")
    assert done.returncode == 2 and 'pip install -e ".[openvino]"' in done.stderr
