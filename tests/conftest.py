import contextlib
import inspect
import os
import re

import pytest
import torch

# pytest.ini runs the suite in one worker process per core (pytest-xdist, -n auto): each worker gets its share of
# the cores, so that torch does not oversubscribe them (two cores, two workers: one thread each).
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = int(os.environ.get("MASKRCNN_TEST_THREADS", max(1, (os.cpu_count() or 2) // WORKERS)))
torch.set_num_threads(THREADS)


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory):
    """A tiny built-in shapes dataset (8 train, 4 val images of 64 x 96) in the COCO-2017 layout."""
    from dataset import ShapesConfig, generate_shapes_dataset
    config = ShapesConfig(image_size=(64, 96), object_size=(14, 40), objects_per_image=(1, 3))
    return generate_shapes_dataset(str(tmp_path_factory.mktemp("data") / "shapes"), num_train=8, num_val=4, seed=1,
                                   config=config)


# --- Test tiers -------------------------------------------------------------------------------------------------
# `pytest -m "not slow"` is the quick tier for development; `.ci/run` and the README's test command run everything.
# A test is slow by rule, not by hand: its body, or a fixture it uses, does one of the costly things below (runs a
# tool, builds a whole detector, trains). New tests follow the rule without being listed.
SLOW_CALLS = re.compile(
    r"\btool\(|\bsubprocess\.run\(|\bexec\(compile\("          # a tool (in process or not); README examples
    r"|\b\w*rcnn_\w*fpn\w*\(|\b(fpn_detector|build_model|MaskRCNN|FasterRCNN|TvMaskRCNN)\("  # a whole detector
    r"|\bgetattr\((maskrcnn|tvd|models), \w+\)\("                 # ... built by name
    r"|\b(model_pair|pretrained_like_pair\w*|assert_parity)\("      # parity pairs of whole detectors
    r"|\bTrainer\(|\bspread_score_checkpoint\(|\bexport_onnx\(|\bjit\.script\("  # training, trained files, export
)
#: How deep the rule follows calls to the test module's own helpers (and those imported from tests/).
CALL_DEPTH = 3


def _helpers(function, namespace: dict, depth: int, seen: set) -> list:
    """``function`` and the functions and classes of ``namespace`` it calls by name, followed ``depth`` deep; only
    those defined under tests/ (library code is what the patterns look for, not where they look)."""
    if depth < 0 or function in seen:
        return []
    seen.add(function)
    found = [function]
    with contextlib.suppress(OSError, TypeError):
        for name in set(re.findall(r"\b(\w+)\(", inspect.getsource(function))):
            helper = namespace.get(name)
            if (inspect.isfunction(helper) or inspect.isclass(helper)) and \
                    (getattr(helper, "__module__", "") or "").startswith("tests"):
                found += _helpers(helper, namespace, depth - 1, seen)
    return found


def _sources(item) -> list[str]:
    """Sources of the test function, the fixtures it requests, and the test helpers they call."""
    functions = [item.function] + [definition.func for definitions in item._fixtureinfo.name2fixturedefs.values()
                                   for definition in definitions]
    seen: set = set()
    sources = []
    for function in functions:
        namespace = vars(inspect.getmodule(function)) if inspect.getmodule(function) else {}
        for helper in _helpers(function, namespace, CALL_DEPTH, seen):
            with contextlib.suppress(OSError, TypeError):
                sources.append(inspect.getsource(helper))
    return sources


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(SLOW_CALLS.search(source) for source in _sources(item)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def restore_rng_state():
    """Each test starts from the RNG state the previous one found and leaves it so (as torchvision's tests do):
    a test that seeds or draws cannot change what the next one sees."""
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)
