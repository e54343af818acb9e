"""tools/predict.py beyond single images: the score threshold inside the model, folders at speed, COCO results,
polygons, videos, and drawings whose captions never cover each other."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from dataset import coco2017_paths, image_to_tensor, mask_to_polygons, read_rgb
from visualization import draw_instances
from visualization.draw import caption_place

from tests.model_fixtures import spread_score_checkpoint
from tests.tool_runner import refused, tool


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "model.pth"
    spread_score_checkpoint(path)
    return path


def test_the_score_threshold_inside_the_model_equals_filtering_afterwards(tiny_shapes):
    model = spread_score_checkpoint(os.devnull).eval()
    image_dir = coco2017_paths(tiny_shapes, "val")[0]
    images = [image_to_tensor(read_rgb(os.path.join(image_dir, name))) for name in sorted(os.listdir(image_dir))]
    pasted = []
    model.roi_heads.register_forward_hook(
        lambda module, inputs, output: pasted.append(sum(len(r["masks"]) for r in output[0])))
    with torch.inference_mode():
        model.roi_heads.score_thresh = 0.05  # the model's default, what predict.py ran with before
        everything = model(images)
        thresh = torch.cat([output["scores"] for output in everything]).median().item()
        model.roi_heads.score_thresh = thresh
        kept = model(images)
    for before, after in zip(everything, kept):
        keep = before["scores"] > thresh
        for key in ("boxes", "labels", "scores", "masks"):
            assert torch.equal(before[key][keep], after[key])
    assert 0 < pasted[1] < pasted[0]  # fewer masks computed and pasted


def test_polygons_rasterise_back_to_the_mask():
    mask = np.zeros((80, 100), dtype=np.uint8)
    cv2.circle(mask, (40, 35), 20, 1, -1)
    cv2.rectangle(mask, (70, 50), (90, 70), 1, -1)
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2 and all(len(p) >= 6 and len(p) % 2 == 0 for p in polygons)
    back = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygons, 80, 100)))
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou > 0.9
    ring = mask.copy()
    cv2.circle(ring, (40, 35), 8, 0, -1)  # a hole: polygons come back filled
    assert len(mask_to_polygons(ring)) == 2
    assert mask_to_polygons(np.zeros((5, 5), dtype=np.uint8)) == []


def test_captions_never_cover_each_other():
    rng = np.random.default_rng(0)
    taken = []
    boxes = [[40, 40, 90, 90]] * 3 + [[42, 44, 88, 92]] + [list(b) for b in rng.uniform(0, 140, (30, 2)).repeat(2, 1)
                                                          + np.array([0, 0, 20, 20])]
    for box in boxes:
        rect = caption_place(box, (38, 12), (160, 200), taken)
        if rect is not None:
            assert 0 <= rect[0] and rect[2] <= 200 and 0 <= rect[1] and rect[3] <= 160
            assert not any(rect[0] < t[2] and t[0] < rect[2] and rect[1] < t[3] and t[1] < rect[3] for t in taken)
            taken.append(rect)
    assert len(taken) >= 20  # most of them find room
    # the README's old picture: two instances on one object; both captions show, apart
    first = caption_place([30, 30, 70, 70], (40, 12), (150, 150), [])
    second = caption_place([31, 30, 70, 71], (40, 12), (150, 150), [first])
    assert first[:2] == (30, 18) and second is not None and second != first
    small = draw_instances(np.zeros((150, 150, 3), np.uint8), [[30, 30, 70, 70]], [1], [0.8], min_side=512)
    assert small.shape == (512, 512, 3)


def write_video(path, frames, fps=5.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_a_video_gives_an_annotated_video_and_a_record_per_frame(tiny_shapes, weights, tmp_path):
    image_dir = coco2017_paths(tiny_shapes, "train")[0]
    frames = [cv2.resize(read_rgb(os.path.join(image_dir, name)), (96, 64))
              for name in sorted(os.listdir(image_dir))[:6]]
    write_video(tmp_path / "clip.mp4", frames)
    (tmp_path / "broken.mp4").write_text("not a video")
    # and a 192 x 128 image of four of them, predicted from 96 px windows (the frames fit in one window: whole)
    large = np.concatenate([np.concatenate(frames[:2], 1), np.concatenate(frames[2:4], 1)], 0)
    cv2.imwrite(str(tmp_path / "large.png"), cv2.cvtColor(large, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    done = tool("predict.py", tmp_path / "clip.mp4", tmp_path / "broken.mp4", tmp_path / "large.png", "--weights",
                weights, "--out", out, "--score-thresh", "0.3", "--batch-size", "4", "--tile", "96",
                "--tile-overlap", "32")
    assert done.returncode == 1, done.stderr[-2000:]
    record = json.loads((out / "large.json").read_text())
    assert (record["width"], record["height"]) == (192, 128) and record["instances"]
    assert all(i["mask"]["size"] == [128, 192] for i in record["instances"])
    assert "broken.mp4: OpenCV cannot read it as a video" in done.stderr and "Traceback" not in done.stderr
    video = cv2.VideoCapture(str(out / "clip.mp4"))
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (96, 64)
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)
    count = 0
    while video.read()[0]:
        count += 1
    assert count == 6
    records = [json.loads(line) for line in (out / "clip.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(6))
    assert [r["time"] for r in records] == pytest.approx([i / 5 for i in range(6)])
    assert sum(len(r["instances"]) for r in records) > 0
    assert all(i["score"] >= 0.3 and i["mask"]["size"] == [64, 96] for r in records for i in r["instances"])
    assert done.stdout.strip().splitlines()[-1].startswith("1 images, 6 video frames, ")
    every = tool("predict.py", tmp_path / "clip.mp4", "--weights", weights, "--out", tmp_path / "every",
                 "--every", "2")
    assert every.returncode == 0, every.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "every" / "clip.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == [0, 2, 4]
    assert cv2.VideoCapture(str(tmp_path / "every" / "clip.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(2.5)


def test_a_folder_at_speed_and_coco_results_that_eval_scores(tiny_shapes, weights, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for split in ("train", "val"):
        image_dir = coco2017_paths(tiny_shapes, split)[0]
        for name in os.listdir(image_dir):
            shutil.copy(os.path.join(image_dir, name), folder / name)
    (folder / "broken.jpg").write_text("not an image")
    out = tmp_path / "out"
    done = tool("predict.py", folder, "--weights", weights, "--out", out, "--no-draw", "--workers", "2",
                "--batch-size", "3", "--mask-format", "polygon", "--score-thresh", "0.3")
    assert done.returncode == 1, done.stderr[-2000:]
    assert "broken.jpg: not a readable image" in done.stderr and "Traceback" not in done.stderr
    jsons = sorted(p.name for p in out.iterdir())
    assert jsons == sorted(f"{os.path.splitext(n)[0]}.json" for n in os.listdir(folder) if n != "broken.jpg")
    total = 0
    for name in jsons:
        record = json.loads((out / name).read_text())
        total += len(record["instances"])
        for instance in record["instances"]:
            assert isinstance(instance["mask"], list) and all(len(p) >= 6 for p in instance["mask"])
    assert total > 0
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"12 images, {total} instances, ") and " images/s " in summary
    assert summary.endswith(" 1 errors")
    assert "image/s" in done.stderr  # the progress bar, for more than a few images

    image_dir, ann = coco2017_paths(tiny_shapes, "val")
    results = tmp_path / "results.json"
    done = tool("predict.py", image_dir, "--weights", weights, "--out", tmp_path / "val", "--score-thresh", "0.05",
                "--coco-results", results, "--coco-ann", ann)
    assert done.returncode == 0, done.stderr[-2000:]
    records = json.loads(results.read_text())
    ids = {image["file_name"]: image["id"] for image in json.loads(open(ann).read())["images"]}
    for name in os.listdir(image_dir):
        instances = json.loads((tmp_path / "val" / f"{os.path.splitext(name)[0]}.json").read_text())["instances"]
        mine = [r for r in records if r["image_id"] == ids[name]]
        assert len(mine) == len(instances)
        for record, instance in zip(mine, instances):
            assert record["segmentation"] == instance["mask"] and record["score"] == instance["score"]
    scored = tool("eval.py", "--results", results, "--ann", ann, "--out", tmp_path / "eval")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "segm" in json.loads((tmp_path / "eval" / "metrics.json").read_text())
    unnamed = refused("predict.py", folder / "broken.jpg", "--weights", weights, "--coco-results", results)
    assert unnamed.returncode == 2 and "broken.jpg has no number for a name" in unnamed.stderr
    overlap = refused("predict.py", folder, "--weights", weights, "--tile", "64", "--tile-overlap", "64")
    assert overlap.returncode == 2 and overlap.stderr.startswith("error: --tile-overlap must be")
