"""FX tracing as torchvision allows it: where ``torch.fx.symbolic_trace`` traces torchvision's module, it traces ours
and the graph computes what the module computes; feature-extraction node names are torchvision's."""
import copy
from collections import OrderedDict

import pytest
import torch
import torchvision
from torchvision.models import detection as tvd
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import maskrcnn


def traces(module: torch.nn.Module) -> bool:
    """Whether ``module`` traces; on a copy (torchvision's pooler stores what it computes while tracing)."""
    try:
        torch.fx.symbolic_trace(copy.deepcopy(module))
    except Exception:  # FX's errors have many types (TraceError, TypeError, NotImplementedError, ...)
        return False
    return True


def pairs():
    """(name, torchvision's module, ours, example inputs), built from the same seed."""
    features = OrderedDict((name, torch.rand(1, 8, size, size)) for name, size in (("0", 32), ("1", 16), ("2", 8)))
    boxes = [torch.tensor([[0.0, 0.0, 60.0, 60.0], [10.0, 20.0, 100.0, 120.0], [5.0, 5.0, 30.0, 20.0]])]
    builders = {
        "resnet_fpn_backbone": (lambda m: m.resnet_fpn_backbone(backbone_name="resnet18", weights=None),
                                (torch.rand(1, 3, 64, 96),)),
        "mobilenet_backbone": (lambda m: m.mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=None,
                                                              fpn=True), (torch.rand(1, 3, 64, 96),)),
        "fpn": (lambda m: m.FeaturePyramidNetwork([8, 8, 8], 16), (features,)),
        "rpn_head": (lambda m: m.RPNHead(8, 3), (list(features.values()),)),
        "roi_align": (lambda m: m.MultiScaleRoIAlign(["0", "1", "2"], 7, 2), (features, boxes, [(128, 128)])),
    }
    for name, (build, inputs) in builders.items():
        torch.manual_seed(0)
        reference = build(torchvision.ops if name in ("roi_align",) else tvd.backbone_utils if "backbone" in name
                          else torchvision.ops if name == "fpn" else tvd.rpn)
        torch.manual_seed(0)
        yield name, reference.eval(), build(maskrcnn).eval(), inputs


@pytest.mark.parametrize("name, reference, ours, inputs", list(pairs()), ids=lambda v: v if isinstance(v, str) else "")
def test_symbolic_trace_wherever_torchvisions_traces(name, reference, ours, inputs):
    if not traces(reference):
        pytest.skip(f"torchvision's {name} does not trace either")
    graph = torch.fx.symbolic_trace(ours)

    def flat(out) -> list:
        if isinstance(out, dict):
            return list(out.values())
        if isinstance(out, (list, tuple)):
            return [t for part in out for t in (part if isinstance(part, list) else [part])]
        return [out]

    # the traced graph computes what torchvision's module computes (same seed, same weights), and what ours does
    actual, expected, eager = flat(graph(*inputs)), flat(reference(*inputs)), flat(ours(*inputs))
    assert len(actual) == len(expected) == len(eager)
    for a, b, c in zip(actual, expected, eager):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c, rtol=0, atol=0)


@pytest.mark.parametrize("backbone", ["resnet_fpn_backbone", "mobilenet_backbone"])
def test_feature_extraction_node_names_are_torchvisions(backbone):
    kwargs = dict(backbone_name="resnet50", weights=None) if backbone == "resnet_fpn_backbone" else \
        dict(backbone_name="mobilenet_v3_large", weights=None, fpn=True)
    reference = getattr(tvd.backbone_utils, backbone)(**kwargs)
    ours = getattr(maskrcnn, backbone)(**kwargs)
    assert get_graph_node_names(ours) == get_graph_node_names(reference)
    nodes = get_graph_node_names(ours)[1][-6:]
    extractor = create_feature_extractor(ours, return_nodes=nodes)
    ours.load_state_dict(reference.state_dict())
    x = torch.rand(1, 3, 64, 64)
    a = extractor(x)
    b = create_feature_extractor(reference.eval(), return_nodes=nodes)(x)
    assert list(a) == list(b) == nodes
    for key in nodes:
        torch.testing.assert_close(a[key], b[key])


def test_whole_detector_feature_extraction_as_torchvision():
    """create_feature_extractor on a whole detector: torchvision's leaf rules apply to ours as to its own."""
    model = maskrcnn.maskrcnn_resnet50_fpn(weights_backbone=None, min_size=128, max_size=160).eval()
    extractor = create_feature_extractor(model.backbone, return_nodes={"body.layer3": "c4", "fpn": "pyramid"})
    out = extractor(torch.rand(1, 3, 128, 128))
    assert out["c4"].shape == (1, 1024, 8, 8) and list(out["pyramid"]) == ["0", "1", "2", "3", "pool"]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_large"])
def test_feature_extractor_of_our_networks_scripts_as_torchvisions_does(name):
    """torchvision scripts the graph module create_feature_extractor makes (its own test does); that needs concrete
    annotations in the traced forward (no postponed ``from __future__ import annotations`` there)."""
    torch.manual_seed(0)
    model = getattr(maskrcnn, name)(num_classes=3).eval()
    nodes = get_graph_node_names(model)[1][-4:]
    extractor = create_feature_extractor(model, return_nodes=nodes)
    scripted = torch.jit.script(extractor)
    x = torch.rand(1, 3, 64, 64)
    for key, value in extractor(x).items():
        torch.testing.assert_close(scripted(x)[key], value)
