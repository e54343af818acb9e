"""Keypoint evaluation: COCOeval's OKS keypoint AP through eval.py and evaluate_on_coco (with the dataset's sigmas,
COCO's for its 17 person keypoints), and torchvision's keypoint checkpoint files loading as Keypoint R-CNN."""
import json
import re
import shutil
import sys

import pytest
import torch

import maskrcnn
from dataset import CocoInstanceDataset
from maskrcnn.engine import eval_loader, evaluate_on_coco, load_detector
from maskrcnn.engine.coco_evaluation import KEYPOINT_STAT_NAMES
from transforms import eval_transforms

from tests.test_keypoint_data import write_keypoint_file
from tests.tool_runner import tool


def test_results_equal_to_the_ground_truth_score_keypoint_ap_1(tmp_path):
    _, ann_file = write_keypoint_file(tmp_path)
    truth = json.loads(ann_file.read_text())["annotations"]
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9,
                "keypoints": a["keypoints"]} for a in truth]
    (tmp_path / "results.json").write_text(json.dumps(results))
    done = tool("eval.py", "--results", tmp_path / "results.json", "--ann", ann_file, "--out", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert list(metrics["keypoints"]) == list(KEYPOINT_STAT_NAMES) and metrics["keypoints"]["AP"] == pytest.approx(1)
    assert "IoU metric: keypoints" in done.stdout
    moved = [{**r, "keypoints": [v + 4 if k % 3 == 0 else v for k, v in enumerate(r["keypoints"])]} for r in results]
    (tmp_path / "moved.json").write_text(json.dumps(moved))  # every point 4 px off: OKS < 1, AP below 1
    assert tool("eval.py", "--results", tmp_path / "moved.json", "--ann", ann_file, "--out", tmp_path).returncode == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["keypoints"]["AP"] < 0.9


def test_a_keypoint_model_is_evaluated_on_keypoints_too(tmp_path):
    torch.manual_seed(0)
    model = maskrcnn.KeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None), num_classes=2,
                                  num_keypoints=3, min_size=64, max_size=96, box_score_thresh=0.0,
                                  box_detections_per_img=5).eval()
    dataset = CocoInstanceDataset(*write_keypoint_file(tmp_path), eval_transforms())
    metrics, table, results, _ = evaluate_on_coco(model, eval_loader(dataset, 1, 0), torch.device("cpu"))
    assert set(metrics) == {"bbox", "keypoints"} and "IoU metric: keypoints" in table
    assert results and all(len(r["keypoints"]) == 9 for r in results)


def test_torchvisions_keypoint_file_loads_as_keypoint_rcnn(tmp_path):
    from torchvision.models.detection import keypointrcnn_resnet50_fpn as tv_keypointrcnn_resnet50_fpn
    path = tmp_path / "keypointrcnn.pth"
    torch.save(tv_keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_keypoints=5).state_dict(), path)
    model, categories = load_detector(path)
    assert isinstance(model, maskrcnn.KeypointRCNN) and model.roi_heads.keypoint_predictor.out_channels == 5
    assert categories.num_classes == 2


def test_keypoints_in_prediction_records_coco_results_and_drawings():
    from dataset.categories import Categories
    from maskrcnn.engine.prediction_records import coco_result_records, instance_records
    from visualization import draw_prediction
    output = {"boxes": torch.tensor([[10.0, 10.0, 50.0, 70.0]]), "labels": torch.tensor([1]),
              "scores": torch.tensor([0.9]),
              "keypoints": torch.tensor([[[20.0, 15.0, 1.0], [30.0, 40.0, 1.0], [45.0, 65.0, 1.0]]]),
              "keypoints_scores": torch.tensor([[3.5, -1.0, 2.25]])}
    records = instance_records(output, Categories.for_model(2, ["__background__", "person"]))
    assert records[0]["keypoints"] == [[20.0, 15.0], [30.0, 40.0], [45.0, 65.0]]
    assert records[0]["keypoint_scores"] == [3.5, -1.0, 2.25]
    result = coco_result_records(7, records)[0]
    assert result["keypoints"] == [20.0, 15.0, 1, 30.0, 40.0, 1, 45.0, 65.0, 1] and result["bbox"] == [10, 10, 40, 60]
    image = torch.zeros(3, 80, 60)
    plain = draw_prediction(image, {k: v for k, v in output.items() if not k.startswith("keypoint")})
    drawn = draw_prediction(image, output, min_side=160)  # enlarged 8/3 times: the dots move with the picture
    assert drawn.shape[:2] == (213, 160) and plain.shape[:2] == (80, 60)
    for x, y in ((20, 15), (30, 40), (45, 65)):
        scale = 160 / 60
        assert drawn[round(y * scale), round(x * scale)].any()  # a dot on the black image


def test_train_predict_export_and_inspect_on_the_built_in_arrows(tmp_path):
    """``--data arrows`` trains a Keypoint R-CNN with the arrows' recipe; its checkpoint names the keypoints and
    their skeleton; predict.py writes four keypoints per arrow; export.py's ONNX file reproduces the checkpoint's
    keypoints; inspect_model.py shows the heatmaps. A file without keypoints is one line for --model keypoint."""
    from dataset import coco2017_paths, generate_arrows_dataset
    from dataset.arrows import KEYPOINT_NAMES

    from tests.tool_runner import TINY_MODEL, refused
    root = generate_arrows_dataset(tmp_path / "arrows", num_train=4, num_val=2, seed=0)
    done = tool("train.py", "--data", "arrows", "--data-root", root, "--epochs", 1, "--output", tmp_path / "run",
                *TINY_MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recipe: the built-in arrows'" in done.stdout and "keypoints AP" in done.stdout
    checkpoint = tmp_path / "run" / "checkpoints" / "last.pth"
    model, categories = load_detector(checkpoint)
    assert isinstance(model, maskrcnn.KeypointRCNN) and model.roi_heads.keypoint_predictor.out_channels == 4
    assert categories.keypoints == KEYPOINT_NAMES and categories.skeleton == ((0, 1), (0, 2), (0, 3))
    metrics = torch.load(checkpoint, weights_only=True)["metrics"]  # the run's evaluation scored keypoints too
    assert {"bbox", "keypoints"} <= set(metrics) and "AP" in metrics["keypoints"]
    image_dir, ann_file = coco2017_paths(root, "val")
    image = sorted(p for p in (tmp_path / "arrows" / "val2017").iterdir())[0]
    done = tool("predict.py", image, "--weights", checkpoint, "--score-thresh", 0.0, "--out", tmp_path / "predictions")
    assert done.returncode == 0, done.stderr[-2000:]
    records = json.loads((tmp_path / "predictions" / f"{image.stem}.json").read_text())
    assert records["instances"] and all(len(r["keypoints"]) == 4 for r in records["instances"])
    assert records["keypoint_names"] == list(KEYPOINT_NAMES)
    done = tool("export.py", "--weights", checkpoint, "--out", tmp_path / "arrows.onnx", "--score-thresh", 0.0,
                "--check", image)
    assert done.returncode == 0, done.stderr[-2000:]
    reproduced = re.search(r"(\d+)/(\d+) detections reproduced.*keypoints at most (\S+) px apart", done.stdout)
    assert reproduced and reproduced[1] == reproduced[2] != "0" and float(reproduced[3]) < 1e-3, done.stdout
    done = tool("inspect_model.py", image, "--weights", checkpoint, "--out", tmp_path / "inspect")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "inspect" / "keypoint_heatmaps.png").is_file()
    assert "Keypoint heatmaps" in (tmp_path / "inspect" / "index.html").read_text()

    coco = tmp_path / "coco"  # COCO-2017's layout: eval.py reads a keypoint model's person_keypoints file
    (coco / "annotations").mkdir(parents=True)
    shutil.copytree(image_dir, coco / "val2017")
    shutil.copy(ann_file, coco / "annotations" / "person_keypoints_val2017.json")
    done = tool("eval.py", "--weights", checkpoint, "--data", "coco2017", "--data-root", coco, "--out", tmp_path / "ev")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IoU metric: keypoints" in done.stdout  # the folder holds no instances file: it read the keypoint one

    instances_file = tmp_path / "instances.json"
    data = json.loads(open(ann_file).read())
    data["categories"][0].pop("keypoints")
    instances_file.write_text(json.dumps(data))
    bad = refused("train.py", "--train-ann", instances_file, "--train-images", image_dir, "--model", "keypoint",
                  "--output", tmp_path / "bad")
    assert bad.returncode == 2 and "has no keypoints" in bad.stderr and bad.stderr.count("\n") == 1


def test_coco2017_keypoints_take_torchvisions_keypoint_recipe_and_person_keypoint_files():
    """``--data coco2017 --model keypoint``: COCO's person_keypoints files and torchvision's keypoint reference
    (46 epochs, x0.1 at 36 and 43, short side 640-800 in training); Mask R-CNN keeps the instances files."""
    from tests.tool_runner import TOOLS
    sys.path.insert(0, TOOLS)
    import train

    from _common import split_paths
    args = train.parse_args(["--data", "coco2017", "--model", "keypoint", "--data-root", "coco"])
    assert args.recipe == "coco2017-keypoints" and (args.epochs, args.lr) == (46, 0.02 * 2 / 16)
    assert split_paths(args, "train")[1].endswith("person_keypoints_train2017.json")
    config = train.RECIPES[args.recipe].model_config(2, "resnet18", "v1", args.min_size, args.max_size)
    config.masks, config.keypoints = False, True
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNN as TvKeypointRCNN

    from maskrcnn.engine import build_model
    reference_sizes = TvKeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None),
                                     num_classes=2).transform.min_size
    assert build_model(config).transform.min_size == reference_sizes == (640, 672, 704, 736, 768, 800)
    plain = train.parse_args(["--data", "coco2017", "--data-root", "coco"])
    assert plain.recipe == "coco2017" and split_paths(plain, "val")[1].endswith("instances_val2017.json")
