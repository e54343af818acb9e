"""Several ``torchvision.ops.roi_align`` calls (one per pyramid level), spread over the CPU's threads at inference.

torchvision's CPU kernel runs on one thread whatever ``torch.get_num_threads()`` says; PyTorch operators release
Python's GIL, so chunks of RoIs pooled from Python threads run side by side. Each RoI is pooled on its own, so the
result is bit for bit the serial one. Used only where autograd is off: the backward of pieces pooled on other
threads would still run one after another, and grad mode is per thread. Elsewhere the calls run in order.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import torch
from torch import Tensor
from torchvision.ops import roi_align

from .precision import REDUCED_DTYPES

#: Below this many RoIs in all, threads cost more than they save.
MIN_ROIS_FOR_THREADS = 64

_pool: Optional[ThreadPoolExecutor] = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers) the pool was made for
_pool_lock = threading.Lock()


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, made again after a fork (a child process inherits no threads)."""
    global _pool, _pool_key
    with _pool_lock:
        key = (os.getpid(), workers)
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)  # this process's pool, of another size
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="roi_align")
            _pool_key = key
        return _pool


def roi_align_levels(jobs: list[tuple[Tensor, Tensor, float]], output_size: tuple[int, int],
                     sampling_ratio: int) -> list[Tensor]:
    """``roi_align(feature, rois, output_size, scale, sampling_ratio)`` for each ``(feature, rois, scale)``."""
    threads = torch.get_num_threads()
    total = sum(rois.shape[0] for _, rois, _ in jobs)
    if (threads < 2 or total < MIN_ROIS_FOR_THREADS or torch.is_grad_enabled()
            or any(feature.device.type != "cpu" for feature, _, _ in jobs)):
        return [roi_align(feature, rois, output_size, spatial_scale=scale, sampling_ratio=sampling_ratio)
                for feature, rois, scale in jobs]
    chunk = math.ceil(total / threads)
    futures = []
    pool = _thread_pool(threads)
    for feature, rois, scale in jobs:
        # what autocast would do (its state is per thread): pool in float32, return the features' dtype
        source = feature.float() if feature.dtype in REDUCED_DTYPES else feature
        rois = rois.to(source.dtype)
        futures.append([pool.submit(roi_align, source, piece, output_size, scale, sampling_ratio)
                        for piece in rois.split(chunk)] if rois.shape[0] else [])
    outputs = []
    for (feature, rois, _), pieces in zip(jobs, futures):
        if not pieces:
            outputs.append(feature.new_zeros((0, feature.shape[1]) + tuple(output_size)))
            continue
        outputs.append(torch.cat([piece.result() for piece in pieces]).to(feature.dtype))
    return outputs
