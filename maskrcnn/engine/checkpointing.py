"""Training checkpoints: written atomically, found again, read back.

A checkpoint is a dict: ``model`` (the state_dict, so ``maskrcnn_resnet50_fpn(weights=...)`` reads it too),
``optimizer``, ``scheduler``, ``scaler``, ``epoch`` (the epoch in progress, counted from 0), ``iteration`` (optimizer
steps done in all), ``epoch_iteration`` (steps done in the epoch in progress; 0 once it is complete and
``epoch`` has moved on), ``rng`` (torch's CPU and CUDA generator states), ``args``, ``model_config``,
``class_names`` and ``metrics`` (the last evaluation).

Atomic: the data goes to a temporary file in the same folder, is flushed to disk, then renamed over the target, so a
crash or ``kill -9`` leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import glob
import os
import tempfile
from typing import Any, Optional

import torch

from ..checkpoint import CheckpointError, read_checkpoint_file


def save_atomically(payload: Any, path: str | os.PathLike) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=folder)
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def newest_checkpoint(folder: str | os.PathLike) -> Optional[str]:
    """The most recently written ``*.pth`` under ``folder`` (recursively), or None."""
    candidates = [p for p in glob.glob(os.path.join(os.fspath(folder), "**", "*.pth"), recursive=True)
                  if not os.path.basename(p).startswith(".tmp-")]
    return max(candidates, key=os.path.getmtime) if candidates else None


def load_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint written by ``tools/train.py``, with a one-line :class:`CheckpointError` for anything else."""
    path = os.fspath(path)
    data = read_checkpoint_file(path)
    if not isinstance(data, dict) or "model" not in data or "model_config" not in data:
        raise CheckpointError(f"{path}: not a training checkpoint of tools/train.py (no 'model' and 'model_config'); "
                              f"a model's weights alone start a new run instead")
    return data


def rng_state() -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
