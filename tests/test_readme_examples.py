"""Runs every Python example of the README and of docs/*.md, page by page, as a reader would in order."""
import os
import re
from pathlib import Path

import pytest
import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn as tv_maskrcnn_resnet50_fpn

import maskrcnn

ROOT = Path(__file__).resolve().parents[1]
COCO_FILE = "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
#: The pages whose examples the tests below run (every page with a Python example must be here).
PAGES = ("README.md", "docs/library.md", "docs/data.md", "docs/models.md", "docs/research-tweaks.md",
         "docs/inspect.md", "docs/export.md")


def examples(page: str, section: str = "") -> list[str]:
    text = (ROOT / page).read_text()
    if section:
        text = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run(page: str, namespace: dict, section: str = "") -> dict:
    for code in examples(page, section):
        exec(compile(code, str(ROOT / page), "exec"), namespace)
    return namespace


@pytest.fixture
def coco_weights(tmp_path, monkeypatch):
    """Stand-in for torchvision's COCO file (the same architecture and key names, random weights): in the working
    folder, and in torch.hub's cache (a temporary TORCH_HOME) for weights="DEFAULT"."""
    torch.manual_seed(0)
    torch.save(tv_maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), tmp_path / COCO_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    os.link(tmp_path / COCO_FILE, tmp_path / "torch" / "hub" / "checkpoints" / COCO_FILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_page_with_an_example_is_run():
    pages = [str(path.relative_to(ROOT)) for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
             if "```python" in path.read_text()]
    assert sorted(pages) == sorted(PAGES)


def test_readme_and_library_examples_run(coco_weights):
    run("README.md", {})
    namespace = run("docs/library.md", {})
    assert len(examples("docs/library.md")) >= 5
    assert namespace["prediction"]["masks"].shape[-2:] == (480, 640)
    assert set(namespace["losses"]) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness",
                                        "loss_rpn_box_reg"}
    run("docs/models.md", {})


def test_export_example_runs(coco_weights):
    namespace = run("docs/export.md", {})
    assert set(namespace["outputs"][0]) == {"boxes", "labels", "scores", "masks"}


def test_data_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = run("docs/data.md", {}, section="Data")
    assert namespace["image"].shape[0] == 3
    assert namespace["target"]["masks"].shape[0] == namespace["target"]["boxes"].shape[0]
    assert namespace["data"].class_names == ["__background__", "square", "circle", "triangle", "star"]


def test_research_tweaks_and_inspect_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(examples("docs/research-tweaks.md")) >= 6
    namespace = run("docs/research-tweaks.md", {})
    assert sorted(namespace["features"]) == ["0", "1", "2", "3", "pool"]
    assert namespace["features"]["0"].shape == (1, 256, 80, 112)  # the shapes the page prints
    model = namespace["model"]
    assert type(model.roi_heads).__name__ == "ClassAgnosticNMS" and isinstance(model.backbone.body.layer4[0].relu,
                                                                               torch.nn.GELU)
    assert namespace["trainer"].state.iteration == 2 and (tmp_path / "result/tweaks/checkpoints/last.pth").exists()
    fast = namespace["fast"]
    assert set(fast) == {"boxes", "labels", "scores", "masks"}
    assert not maskrcnn.optimized.optimized_modules(model)
    run("docs/inspect.md", namespace)  # the same model and image as above
    assert namespace["inspection"].output["boxes"].shape == fast["boxes"].shape
