"""Runs every Python example of the README's "Use it as a library" section, in order, in one namespace."""
import os
import re
from pathlib import Path

import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn as tv_maskrcnn_resnet50_fpn

import maskrcnn

README = Path(__file__).resolve().parents[1] / "README.md"


def library_examples() -> list[str]:
    text = README.read_text()
    section = text.split("## Use it as a library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_library_examples_run(tmp_path, monkeypatch):
    examples = library_examples()
    assert len(examples) >= 5
    # Stand-in for torchvision's COCO file: the same architecture and key names, random weights; in the working
    # folder, and in torch.hub's cache (a temporary TORCH_HOME) for weights="DEFAULT".
    torch.manual_seed(0)
    torch.save(tv_maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(),
               tmp_path / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    os.link(tmp_path / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
            tmp_path / "torch" / "hub" / "checkpoints" / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in examples:
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["prediction"]["masks"].shape[-2:] == (480, 640)
    assert set(namespace["losses"]) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness",
                                        "loss_rpn_box_reg"}


def test_readme_data_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("\n## Data", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert examples
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in examples:
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["image"].shape[0] == 3
    assert namespace["target"]["masks"].shape[0] == namespace["target"]["boxes"].shape[0]
    assert namespace["data"].class_names == ["__background__", "square", "circle", "triangle", "star"]


def test_readme_research_tweaks_run(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("\n## Research tweaks", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(examples) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in examples:
        exec(compile(code, str(README), "exec"), namespace)
    assert sorted(namespace["features"]) == ["0", "1", "2", "3", "pool"]
    assert namespace["features"]["0"].shape == (1, 256, 80, 112)  # the shapes the README prints
    model = namespace["model"]
    assert type(model.roi_heads).__name__ == "ClassAgnosticNMS" and isinstance(model.backbone.body.layer4[0].relu,
                                                                               torch.nn.GELU)
    assert namespace["trainer"].state.iteration == 2 and (tmp_path / "result/tweaks/checkpoints/last.pth").exists()
    fast = namespace["fast"]
    assert set(fast) == {"boxes", "labels", "scores", "masks"}
    assert not maskrcnn.optimized.optimized_modules(model)
    inspect_section = text.split("\n## See inside the model", 1)[1].split("\n## ", 1)[0]
    for code in re.findall(r"```python\n(.*?)```", inspect_section, flags=re.S):
        exec(compile(code, str(README), "exec"), namespace)  # the same model and image as above
    assert namespace["inspection"].output["boxes"].shape == fast["boxes"].shape
