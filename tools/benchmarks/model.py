"""``benchmark.py model``: our Mask R-CNN against torchvision's, same weights, same process, same inputs.

The model is torchvision's ``maskrcnn_resnet50_fpn`` as a pretrained user runs it
(:func:`maskrcnn.testing.pretrained_like_pair`): frozen batch norm (with random, non-trivial statistics, so folding it
is really exercised), ``trainable_backbone_layers=3``, random weights otherwise. Random weights score every box about
alike (~1/91 each); the classifier's weights are scaled up (x30) so that scores spread as a trained model's do
(0.3-0.6 at the top) and torchvision's default threshold 0.05 keeps the full 100 detections, all pasted as masks, as
on a real photo. Ours runs in its plain form (what the builders return) and in its fast form
(``maskrcnn.optimize``, what the tools run).

Every variant runs once per round, in turn, after a warm-up round; the table gives medians over the rounds. Peak
memory is measured in a fresh process per variant (CPU: peak resident set growth during one run; CUDA: peak
allocated), so one variant's allocator cache cannot hide another's peak.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torchvision
from torch import nn

import maskrcnn
from maskrcnn import testing

INPUT_SIZE = (480, 640)  # the photo's size; min_size 800 resizes it to 800 x 1066
TRAIN_OBJECTS = 6


@dataclass(frozen=True)
class Variant:
    name: str
    library: str  # "ours" or "torchvision"
    channels_last: bool = False
    fast: bool = False  # ours: maskrcnn.fast_mode(); torchvision: torch.autocast
    optimized: bool = False  # ours: maskrcnn.optimize(model)


def variants(include_reference_fast: bool) -> list[Variant]:
    found = [Variant("torchvision", "torchvision"),
             Variant("torchvision channels-last", "torchvision", channels_last=True),
             Variant("ours plain", "ours"),
             Variant("ours plain channels-last", "ours", channels_last=True),
             Variant("ours optimized", "ours", optimized=True),
             Variant("ours optimized, fast mode", "ours", optimized=True, fast=True)]
    if include_reference_fast:
        found.insert(2, Variant("torchvision channels-last + autocast", "torchvision", channels_last=True, fast=True))
    return found


def build_models(min_size: int, score_thresh: float, seed: int, version: str = "v1") -> dict[str, nn.Module]:
    """torchvision's model with random weights, and ours loaded from its state_dict (plain)."""
    pair = testing.pretrained_like_pair_v2 if version == "v2" else testing.pretrained_like_pair
    theirs, ours = pair(seed, min_size=min_size, box_score_thresh=score_thresh)
    return {"ours": ours, "torchvision": theirs}


def photo(generator: torch.Generator) -> torch.Tensor:
    """A smooth random image (a few blurred blobs), closer to a photo's statistics than white noise."""
    low = torch.rand(1, 3, INPUT_SIZE[0] // 32, INPUT_SIZE[1] // 32, generator=generator)
    return torch.nn.functional.interpolate(low, size=INPUT_SIZE, mode="bicubic", align_corners=False)[0].clamp(0, 1)


def training_batch(generator: torch.Generator, device: torch.device) -> tuple[list, list]:
    images, targets = [], []
    h, w = INPUT_SIZE
    for _ in range(2):
        images.append(photo(generator).to(device))
        centre = torch.rand(TRAIN_OBJECTS, 2, generator=generator) * torch.tensor([w, h])
        size = torch.rand(TRAIN_OBJECTS, 2, generator=generator) * 150 + 30
        boxes = torch.cat((centre - size / 2, centre + size / 2), 1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h - 1)
        masks = torch.zeros(TRAIN_OBJECTS, h, w, dtype=torch.uint8)
        ys, xs = torch.arange(h)[:, None] + 0.5, torch.arange(w)[None] + 0.5
        for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):  # the ellipse inscribed in each box
            cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
            masks[k] = (((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1).to(torch.uint8)
        labels = torch.randint(1, 91, (TRAIN_OBJECTS,), generator=generator)
        targets.append({"boxes": boxes.to(device), "labels": labels.to(device), "masks": masks.to(device)})
    return images, targets


def autocast_for(variant: Variant, device: torch.device) -> contextlib.AbstractContextManager:
    if not variant.fast:
        return contextlib.nullcontext()
    if variant.library == "ours":
        return maskrcnn.fast_mode(device)
    return torch.autocast(device.type, dtype=torch.bfloat16 if device.type == "cpu" else torch.float16)


def prepare(model: nn.Module, variant: Variant, device: torch.device, training: bool) -> nn.Module:
    model = model.to(device)
    if variant.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if variant.optimized:
        maskrcnn.optimize(model)
    model.train(training)
    return model


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(name: str, model: nn.Module, variant: Variant, device: torch.device, images: list, targets: list
              ) -> Callable[[], object]:
    """One timed unit: a no-grad inference, or forward + backward + SGD step."""
    if name == "train":
        params = [p for p in model.parameters() if p.requires_grad]
        # a tiny learning rate: the weights stay near the shared start, so both libraries see alike numbers
        optimizer = torch.optim.SGD(params, lr=1e-6, momentum=0.9, weight_decay=1e-4)

        def step():
            with autocast_for(variant, device):
                losses = model(images, targets)
            loss = sum(losses.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            synchronize(device)
            return losses
        return step

    def infer():
        with torch.no_grad(), autocast_for(variant, device):
            output = model(images)
        synchronize(device)
        return output
    return infer


WORKLOADS = {  # name -> (model min_size, training?, model version)
    "inference 800x1066": (800, False, "v1"),
    "inference 480x640": (480, False, "v1"),
    "train step, batch 2, 800x1066": (800, True, "v1"),
    "v2 inference 800x1066": (800, False, "v2"),
    "v2 train step, batch 2, 800x1066": (800, True, "v2"),
}
#: v2 is compared as users run it: torchvision's, ours optimized, ours in fast mode.
V2_VARIANTS = ("torchvision", "ours optimized", "ours optimized, fast mode")


def workload_inputs(name: str, device: torch.device) -> tuple[list, list]:
    generator = torch.Generator().manual_seed(1)
    if WORKLOADS[name][1]:
        return training_batch(generator, device)
    return [photo(generator).to(device)], []


def workload_step(name: str, variant: Variant, args: argparse.Namespace, device: torch.device) -> Callable:
    """One variant's step of one workload, on a model of its own: the single-variant runs (memory, profile)."""
    min_size, training, version = WORKLOADS[name]
    model = prepare(build_models(min_size, args.score_thresh, args.seed, version)[variant.library], variant, device,
                    training)
    images, targets = workload_inputs(name, device)
    return make_step("train" if training else "infer", model, variant, device, images, targets)


def detections_agreeing(ours: dict, theirs: dict, iou_thresh: float = 0.99) -> int:
    """Detections of ``theirs`` that have a partner in ``ours`` (same label, IoU > thresh), matched one to one."""
    return len(testing.match_detections(ours, theirs, iou_thresh))


def time_workload(name: str, args: argparse.Namespace, device: torch.device, chosen: list[Variant]
                  ) -> tuple[dict[str, float], Optional[dict[str, tuple[int, int]]]]:
    min_size, training, version = WORKLOADS[name]
    models = build_models(min_size, args.score_thresh, args.seed, version)
    images, targets = workload_inputs(name, device)
    steps, outputs = {}, {}
    chosen = [v for v in chosen if version == "v1" or v.name in V2_VARIANTS]
    for variant in chosen:
        # every variant runs its own copy, so that each starts from the same weights
        model = prepare(copy.deepcopy(models[variant.library]), variant, device, training)
        steps[variant.name] = make_step("train" if training else "infer", model, variant, device, images, targets)
    times: dict[str, list[float]] = {v.name: [] for v in chosen}
    for round_index in range(args.repeats + 1):
        for variant in chosen:
            start = time.perf_counter()
            result = steps[variant.name]()
            elapsed = time.perf_counter() - start
            if round_index == 0:
                outputs[variant.name] = result
            else:
                times[variant.name].append(elapsed)
    agreement = None
    if not training:
        reference = outputs["torchvision"][0]
        agreement = {v.name: (detections_agreeing(outputs[v.name][0], reference), len(reference["boxes"]))
                     for v in chosen if v.name != "torchvision"}
    return {k: statistics.median(v) for k, v in times.items()}, agreement


def peak_memory_mb(name: str, variant: Variant, args: argparse.Namespace) -> float:
    """Runs one variant of one workload in a fresh process and returns its peak memory growth in MB."""
    tools = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [sys.executable, os.path.join(tools, "benchmark.py"), "model",
               "--probe-memory", json.dumps([name, variant.__dict__]), "--device", args.device,
               "--threads", str(args.threads), "--score-thresh", str(args.score_thresh)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe for {variant.name} / {name} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def resident_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def probe_memory(args: argparse.Namespace, device: torch.device) -> None:
    name, fields = json.loads(args.probe_memory)
    step = workload_step(name, Variant(**fields), args, device)
    step()  # warm-up: one-off allocations (optimizer state, backend caches) are not the step's peak
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step()
        print((torch.cuda.max_memory_allocated(device) - before) / 2 ** 20)
        return
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak resident set size (VmHWM) to the current one
    before = resident_kb("VmRSS")
    step()
    print((resident_kb("VmHWM") - before) / 1024)


def forward_gflop(model: nn.Module, images: list) -> float:
    """Multiply-adds x 2 of one no-grad forward (convolutions, linear layers, matrix products), counted by PyTorch."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(images)
    return counter.get_total_flops() / 1e9


def conv_gflops_per_s(device: torch.device, dtype: torch.dtype, repeats: int = 5) -> float:
    """What a 3x3, 256-channel convolution on a 200 x 272 map (the FPN's finest level) sustains: a practical peak."""
    conv = nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device)
    x = torch.randn(1, 256, 200, 272, device=device).contiguous(memory_format=torch.channels_last)
    conv = conv.to(memory_format=torch.channels_last)
    flop = 2 * 256 * 256 * 9 * 200 * 272
    context = torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    with torch.no_grad(), context:
        conv(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            conv(x)
            synchronize(device)
            times.append(time.perf_counter() - start)
    return flop / statistics.median(times) / 1e9


def floor_lines(device: torch.device, args: argparse.Namespace) -> list[str]:
    model = prepare(build_models(800, args.score_thresh, args.seed)["torchvision"], Variant("tv", "torchvision"),
                    device, False)
    images, _ = workload_inputs("inference 800x1066", device)
    gflop = forward_gflop(model, images)
    lines = [f"One inference at 800x1066 is {gflop:.0f} GFLOP (torch.utils.flop_counter, torchvision's model)."]
    for label, dtype in (("float32", torch.float32), ("bfloat16" if device.type == "cpu" else "float16",
                                                      torch.bfloat16 if device.type == "cpu" else torch.float16)):
        if dtype == torch.bfloat16 and maskrcnn.ops.precision.fast_mode_dtype(device) is None:
            continue
        rate = conv_gflops_per_s(device, dtype)
        lines.append(f"A channels-last 3x3 convolution sustains {rate:.0f} GFLOP/s in {label}: the {label} floor of "
                     f"one inference is about {gflop / rate * 1000:.0f} ms.")
    return lines


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, torchvision {torchvision.__version__}"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    return (f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch {torch.__version__}, "
            f"torchvision {torchvision.__version__}")


def profile_variant(args: argparse.Namespace, device: torch.device) -> None:
    """The operators one variant spends its time in, on the first selected workload (after a warm-up run)."""
    variant = next(v for v in variants(True) if v.name == args.profile)
    name = next(w for w in WORKLOADS if args.workload is None or w in args.workload)
    step = workload_step(name, variant, args, device)
    step()
    with torch.profiler.profile(record_shapes=False) as profiler:
        step()
    print(f"{variant.name}, {name}")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


def run_model(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if args.probe_memory:
        probe_memory(args, device)
        return
    if args.profile:
        profile_variant(args, device)
        return
    chosen = [v for v in variants(args.reference_fast) if args.only is None or v.name in args.only]
    names = [w for w in WORKLOADS if args.workload is None or w in args.workload]
    lines = [f"Mask R-CNN ResNet-50-FPN on {machine_description(device)}; input {INPUT_SIZE[0]}x{INPUT_SIZE[1]}, "
             f"median of {args.repeats} rounds after a warm-up; ratios against torchvision (float32, as users run it)",
             "",
             "| workload | variant | time (ms) | / torchvision | peak memory (MB) | detections agreeing |",
             "|---|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for name in names:
        medians, agreement = time_workload(name, args, device, chosen)
        for variant in [v for v in chosen if v.name in medians]:
            memory = f"{peak_memory_mb(name, variant, args):.0f}" if args.memory else "-"
            agree = "-"
            if agreement is not None and variant.name in agreement:
                agree = "{} / {}".format(*agreement[variant.name])
            line = (f"| {name} | {variant.name} | {medians[variant.name] * 1000:.0f} | "
                    f"{medians[variant.name] / medians['torchvision']:.2f} | {memory} | {agree} |")
            lines.append(line)
            print(line, flush=True)
    if args.floor:
        floor = floor_lines(device, args)
        print("\n" + "\n".join(floor))
        lines += [""] + floor
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w") as out:
            out.write("\n".join(lines) + "\n")
        print(f"wrote {args.markdown}")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``benchmark.py model``."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default: 5)")
    parser.add_argument("--score-thresh", type=float, default=0.05, help="box score threshold (default: 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS), help="(default: all)")
    parser.add_argument("--only", action="append", help="variant names to run (default: all)")
    parser.add_argument("--reference-fast", action="store_true",
                        help="also time torchvision channels-last under autocast")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak memory probes")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip counting FLOPs and measuring the convolution peak")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--profile", metavar="VARIANT", help="print where one variant spends its time instead")
    parser.add_argument("--probe-memory", help=argparse.SUPPRESS)
