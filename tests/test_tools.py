"""The command-line tools, run for real as subprocesses on a tiny generated dataset."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask

from dataset import coco2017_paths

from tests.tool_runner import ENV, TINY_MODEL, TOOLS, refused, tool

#: The shared run weights a loss and lays anchors of its own, so that the resume test shows that the weights come back
#: with the run's settings (and the report test, that the checkpoint rebuilds its anchors).
LOSS_WEIGHTS = ["--loss-weights", "mask=2"]
ANCHORS = ["--anchor-sizes", 16, 32, 64, 128, 256, "--aspect-ratios", 0.5, 1, 2]


@pytest.fixture(scope="module")
def trained(tiny_shapes, tmp_path_factory):
    """One short training run (2 epochs of 4 steps) shared by the tests that need a checkpoint."""
    out = tmp_path_factory.mktemp("run")
    done = tool("train.py", "--data-root", tiny_shapes, "--epochs", 2, "--eval-every", 1, "--output", out,
                *LOSS_WEIGHTS, *ANCHORS, *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_training_writes_checkpoints_logs_and_metrics(trained):
    out, done = trained
    names = sorted(os.listdir(out / "checkpoints"))
    assert names == ["best.pth", "epoch_001.pth", "epoch_002.pth", "last.pth"]
    checkpoint = load(out / "checkpoints" / "last.pth")
    assert checkpoint["epoch"] == 2 and checkpoint["iteration"] == 8 and checkpoint["epoch_iteration"] == 0
    for key in ("model", "optimizer", "scheduler", "scaler", "args", "model_config", "class_names", "metrics"):
        assert key in checkpoint
    assert checkpoint["class_names"] == ["__background__", "square", "circle", "triangle", "star"]
    assert set(checkpoint["metrics"]) == {"bbox", "segm", "losses"} and "AP75" in checkpoint["metrics"]["segm"]
    assert set(checkpoint["metrics"]["losses"]) == {"loss", "loss_classifier", "loss_box_reg", "loss_mask",
                                                    "loss_objectness", "loss_rpn_box_reg"}
    assert checkpoint["model_config"]["backbone"] == "resnet18"
    assert checkpoint["args"]["loss_weights"] == ["mask=2"]
    events = [f for f in os.listdir(out / "logs") if f.startswith("events.out.tfevents")]
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    accumulator = EventAccumulator(str(out / "logs"))
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {"train/loss_mask", "train/lr", "val/segm_AP", "val/bbox_AP50", "val/loss_mask"} <= set(tags["scalars"])
    assert any(tag.startswith("val/prediction_") for tag in tags["images"])
    assert "done: 8 iterations" in done.stdout and done.stdout.count("  val loss ") == 2  # on each epoch's line


def run_until_interrupted(args, sig, after_iterations=None, after_file=None):
    """Start train.py, send ``sig`` once ``after_iterations`` steps are reported or ``after_file`` exists."""
    process = subprocess.Popen([sys.executable, os.path.join(TOOLS, "train.py"), *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    captured = []

    def read():
        for chunk in iter(lambda: process.stderr.read1(4096), b""):
            captured.append(chunk.decode(errors="replace"))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        text = "".join(captured)
        if after_iterations is not None and f"| {after_iterations}/" in text:
            break
        if after_file is not None and os.path.exists(after_file):
            break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be interrupted:\n" + "".join(captured)[-2000:]
    process.send_signal(sig)
    process.wait(timeout=240)
    reader.join(timeout=30)
    return process.returncode, process.stdout.read().decode(), "".join(captured)


def test_ctrl_c_writes_a_checkpoint_and_resuming_ends_with_the_same_weights(tiny_shapes, trained, tmp_path):
    reference, _ = trained
    args = ["--data-root", tiny_shapes, "--epochs", 2, "--output", tmp_path, *LOSS_WEIGHTS, *ANCHORS, *TINY_MODEL]
    code, _, stderr = run_until_interrupted(args, signal.SIGINT, after_iterations=2)
    assert code == 130, stderr[-2000:]
    assert "interrupted at iteration" in stderr and "--resume" in stderr
    partial = load(tmp_path / "checkpoints" / "last.pth")
    assert 2 <= partial["iteration"] < 8
    done = tool("train.py", "--resume", "--output", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed {tmp_path}" in done.stdout
    resumed, uninterrupted = load(tmp_path / "checkpoints" / "last.pth"), load(reference / "checkpoints" / "last.pth")
    assert resumed["iteration"] == uninterrupted["iteration"] == 8
    for name, tensor in uninterrupted["model"].items():
        assert torch.equal(resumed["model"][name], tensor), name


def test_killed_run_resumes_from_its_last_checkpoint(tiny_shapes, tmp_path):
    args = ["--data-root", tiny_shapes, "--epochs", 1, "--save-every", 1, "--output", tmp_path, *TINY_MODEL]
    code, _, _ = run_until_interrupted(args, signal.SIGKILL, after_file=tmp_path / "checkpoints" / "last.pth")
    assert code == -signal.SIGKILL
    saved = load(tmp_path / "checkpoints" / "last.pth")  # complete, never half-written
    assert 1 <= saved["iteration"] <= 4
    done = tool("train.py", "--resume", "--output", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load(tmp_path / "checkpoints" / "last.pth")["iteration"] == 4


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny_shapes, tmp_path):
    done = tool("train.py", "--data-root", tiny_shapes, "--epochs", 3, "--lr", "1e12", "--save-every", 1,
                "--output", tmp_path, *TINY_MODEL)
    assert done.returncode == 3, done.stderr[-3000:]
    line = [l for l in done.stderr.splitlines() if l.startswith("error: ")]
    assert len(line) == 1 and "non-finite loss at iteration" in line[0] and "loss_classifier=" in line[0]
    failed_at = int(line[0].split("iteration ")[1].split(" ")[0])
    assert load(tmp_path / "checkpoints" / "last.pth")["iteration"] == failed_at - 1
    assert "Traceback" not in done.stderr


def test_two_process_gloo_training(tiny_shapes, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
               os.path.join(TOOLS, "train.py"), "--data-root", tiny_shapes, "--epochs", 1, "--device", "cpu",
               "--output", tmp_path, *TINY_MODEL]
    done = subprocess.run(list(map(str, command)), capture_output=True, text=True, env={**ENV, "OMP_NUM_THREADS": "1"},
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "batch 2 x 2" in done.stdout and done.stdout.count("done:") == 1  # rank 0 alone reports
    checkpoint = load(tmp_path / "checkpoints" / "last.pth")
    assert checkpoint["iteration"] == 2  # 8 images over 2 ranks x batch 2
    assert set(checkpoint["metrics"]) == {"bbox", "segm", "losses"}  # evaluation gathered from both ranks


def test_eval_writes_results_metrics_and_a_report_with_the_checkpoints_own_anchors(tiny_shapes, trained, tmp_path):
    out, _ = trained
    done = tool("eval.py", "--weights", out / "checkpoints" / "last.pth", "--data-root", tiny_shapes,
                "--per-class", "--out", tmp_path, "--workers", 0, "--report", tmp_path / "report",
                "--report-score", 0.05)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    for iou_type in ("bbox", "segm"):
        assert [k for k in metrics[iou_type] if k != "per_class"] == names
        assert set(metrics[iou_type]["per_class"]) == {"square", "circle", "triangle", "star"}
    assert "IoU metric: segm" in done.stdout and "Average Precision" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert all({"image_id", "category_id", "bbox", "score", "segmentation"} <= r.keys() for r in results)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    proposals = report["proposals"]
    # the shapes recipe keeps 150 proposals per image: top 100 and top 150
    assert proposals["images"] == 4 and set(proposals["recall"]) == {f"top{k}@{t}" for k in (100, 150)
                                                                      for t in (0.5, 0.7)}
    assert proposals["anchors"]["current"]["sizes"] == [[16], [32], [64], [128], [256]]  # the run's (ANCHORS)
    assert report["training"]["epochs"] == 2 and report["training"]["recipe_epochs"] == 8
    assert any(f["figure"] == "training" and "trained 2 epochs" in f["text"] for f in report["findings"])
    assert (tmp_path / "report" / "proposals.png").exists() and (tmp_path / "report" / "worst_0.png").exists()
    mobilenet = refused("train.py", "--backbone", "mobilenet_v3_large", "--anchor-sizes", 8, 16, 32, 64, 128,
                        "--output", tmp_path)
    assert mobilenet.returncode == 2 and "keeps torchvision's MobileNet anchors" in mobilenet.stderr


def test_eval_scores_an_existing_results_file(tiny_shapes, tmp_path):
    ann = coco2017_paths(tiny_shapes, "val")[1]
    gt = json.loads(open(ann).read())
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
               for a in gt["annotations"] if not a["iscrowd"]]
    (tmp_path / "dets.json").write_text(json.dumps(results))
    done = tool("eval.py", "--results", tmp_path / "dets.json", "--ann", ann, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["bbox"]["AP"] == pytest.approx(1.0) and "segm" not in metrics
    bad = refused("eval.py", "--results", tmp_path / "missing.json", "--ann", ann)
    assert bad.returncode == 2 and bad.stderr.startswith("error: results file not found")


def test_predict_on_files_folders_globs_and_bad_inputs(tiny_shapes, trained, tmp_path):
    out, _ = trained
    val_dir = coco2017_paths(tiny_shapes, "val")[0]
    first = sorted(os.listdir(val_dir))[0]
    Image.open(os.path.join(val_dir, first)).convert("L").save(tmp_path / "gray.jpg")
    rgba = Image.open(os.path.join(val_dir, first)).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "rgba.png")
    (tmp_path / "notes.txt").write_text("not an image")
    predictions = tmp_path / "predictions"
    done = tool("predict.py", os.path.join(val_dir, first), tmp_path / "gray.jpg", tmp_path / "rgba.png",
                tmp_path / "missing.jpg", tmp_path / "notes.txt", os.path.join(val_dir, "*.jpg"),
                "--weights", out / "checkpoints" / "last.pth", "--score-thresh", "0.0", "--out", predictions)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert errors[0] == f"error: {tmp_path / 'missing.jpg'}: file not found"
    assert any("notes.txt: not a readable image" in line for line in errors)
    assert "Traceback" not in done.stderr
    *lines, summary = done.stdout.strip().splitlines()
    assert len(lines) == 3 + 4  # the first val image twice (by name and by glob), gray, rgba and 3 more
    assert all(" instances, " in line and " ms" in line for line in lines)
    assert summary.startswith("7 images, ") and summary.endswith(" 2 errors")
    record = json.loads((predictions / "gray.json").read_text())
    image = np.asarray(Image.open(tmp_path / "gray.jpg"))
    assert (record["width"], record["height"]) == (image.shape[1], image.shape[0])
    assert record["image"] == str(tmp_path / "gray.jpg")
    for instance in record["instances"]:
        assert {"label", "name", "score", "box", "mask"} <= instance.keys()
        assert instance["mask"]["size"] == [image.shape[0], image.shape[1]]
        decoded = coco_mask.decode({"size": instance["mask"]["size"], "counts": instance["mask"]["counts"].encode()})
        assert decoded.shape == image.shape[:2]
    assert (predictions / "rgba.jpg").exists() and (predictions / "rgba.json").exists()


def test_predict_without_weights_and_with_weights_that_do_not_fit(trained, tmp_path):
    out, _ = trained
    image = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(image)
    none = refused("predict.py", image, cwd=tmp_path)
    assert none.returncode == 2 and "python tools/train.py" in none.stderr and none.stderr.count("\n") == 1
    plain = load(out / "checkpoints" / "last.pth")["model"]  # a ResNet-18 state_dict, read as torchvision's R50
    torch.save(plain, tmp_path / "plain.pth")
    misfit = refused("predict.py", image, "--weights", tmp_path / "plain.pth")
    assert misfit.returncode == 2, misfit.stderr
    assert misfit.stderr.startswith("error: ") and misfit.stderr.count("\n") == 1 and "Traceback" not in misfit.stderr


def test_options_are_never_abbreviated_and_loss_weights_are_checked(trained, tmp_path):
    out, _ = trained
    abbreviated = refused("train.py", "--resume", "--epoch", 8, "--output", out)
    assert abbreviated.returncode == 2 and "unrecognized arguments: --epoch 8" in abbreviated.stderr
    unknown = refused("train.py", "--loss-weights", "masks=2", "--output", tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert unknown.stderr.startswith("error: --loss-weights: unknown loss 'masks'")
    negative = refused("train.py", "--loss-weights", "mask=-1", "--output", tmp_path)
    assert negative.returncode == 2 and "a weight >= 0" in negative.stderr
