"""The training loop: steps, checkpoints, interruption and resumption; the rest is hooks.

``Trainer.fit()`` runs from wherever ``state`` says (a fresh run or a resumed checkpoint) to the last epoch:

* every step: forward (under fast mode if asked), a check that every loss is finite (else
  :class:`NonFiniteLossError` naming the step and the losses, before any weight changes), backward, optimizer and
  schedule steps, with the hooks of :mod:`.hooks` around them;
* Ctrl-C (SIGINT) or SIGTERM: the step in progress finishes, ``last.pth`` is written and ``fit`` returns
  ``"interrupted"``; a second Ctrl-C stops at once; a hook's ``trainer.request_stop()`` ends it the same way
  (``"stopped"``);
* after each epoch: the hooks' ``after_epoch`` (by default COCO evaluation and the validation losses), then
  ``last.pth`` and ``epoch_NNN.pth``, then ``after_checkpoint`` (by default ``best.pth`` when the AP improved);
  ``last.pth`` also every ``save_every`` steps, so a killed run loses at most that many.

Progress bar, evaluation, best checkpoint and TensorBoard are default hooks (:mod:`.default_hooks`), installed by
:meth:`Trainer.build_hooks`; a user can remove or replace each.

The training data is an :class:`EpochSeededDataset` (batches planned per epoch from the seed: a resumed run repeats
exactly) or any iterable of ``(images, targets)`` batches, such as a user's own ``DataLoader`` (its sampler's
``set_epoch`` is called if it has one; a resumed epoch skips the batches already done, which repeats exactly only
if the loader is deterministic).

Only rank 0 shows progress and writes files; every rank takes the same decisions (losses are averaged across ranks
before they are checked).
"""
from __future__ import annotations

import itertools
import math
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..ops.precision import fast_mode, fast_mode_dtype
from . import distributed
from .checkpointing import restore_rng_state, rng_state, save_atomically
from .data_loading import EpochSeededDataset, plan_epoch, train_loader
from .default_hooks import BestCheckpoint, Evaluation, ProgressBar, TensorBoardLogger
from .hooks import TrainerHook


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the weights of the last step are kept."""


@dataclass
class TrainState:
    epoch: int = 0            # epoch in progress (from 0)
    iteration: int = 0        # optimizer steps done in all
    epoch_iteration: int = 0  # steps done in the epoch in progress
    best_ap: float = -1.0
    metrics: dict = field(default_factory=dict)


class StopRequest:
    """Turns the first SIGINT / SIGTERM into a flag checked between steps; the second SIGINT interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@dataclass
class TrainConfig:
    """How to train: the length of the run, the batch plan of an ``EpochSeededDataset`` (``batch_size``, ``seed``,
    ``workers``; a loader brings its own), where checkpoints go (``output``/checkpoints), how often (``save_every``
    steps, 0 = at epoch ends only), and what the default hooks do (``eval_every`` epochs, ``log_every`` steps).
    ``fast_mode`` runs forward passes in :func:`maskrcnn.fast_mode`. ``checkpoint_extras`` are stored in every
    checkpoint (the tools keep the model's configuration and class names there)."""
    epochs: int
    output: str
    device: Union[torch.device, str] = "cpu"
    batch_size: int = 2
    seed: int = 0
    workers: int = 0
    fast_mode: bool = False
    save_every: int = 0
    eval_every: int = 1
    log_every: int = 20
    checkpoint_extras: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Trains ``model`` on ``train_data`` (see the module's docstring) with ``optimizer`` and a per-step
    ``scheduler``, as ``config`` says.

    The hooks are :meth:`build_hooks`' defaults (progress bar; evaluation on ``val_loader`` and ``best.pth``, if
    it is given; TensorBoard, if ``writer`` is given, with ``preview`` drawing a few evaluated images) followed by
    ``hooks``. ``trainer.hooks`` is a plain list: remove, reorder or replace any of them before ``fit``.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, train_data: Union[EpochSeededDataset, Iterable],
                 config: TrainConfig, *, val_loader: Optional[DataLoader] = None, writer=None,
                 preview: Optional[Callable[[list, int], None]] = None, hooks: Sequence[TrainerHook] = ()) -> None:
        self.model = model
        self.module = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        self.optimizer, self.scheduler = optimizer, scheduler
        self.train_data, self.val_loader = train_data, val_loader
        self.config = config
        self.device = torch.device(config.device)
        self.checkpoint_dir = os.path.join(config.output, "checkpoints")
        # fast mode on CUDA is float16, whose small range needs loss scaling; CPU bfloat16 does not
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=config.fast_mode and fast_mode_dtype(self.device) == torch.float16)
        self.writer, self.preview = writer, preview
        self.state = TrainState()
        self.main = distributed.is_main_process()
        self.stop_requested = False
        self.hooks: list[TrainerHook] = self.build_hooks() + list(hooks)

    def build_hooks(self) -> list[TrainerHook]:
        """The default hooks (:mod:`.default_hooks`); override to change them."""
        hooks: list[TrainerHook] = [ProgressBar()]
        if self.val_loader is not None:
            hooks += [Evaluation(self.val_loader, self.config.eval_every,
                                 keep_outputs=4 if self.preview is not None else 0), BestCheckpoint()]
        if self.writer is not None:
            hooks.append(TensorBoardLogger(self.writer, self.config.log_every, self.preview))
        return hooks

    def total_steps(self) -> Optional[int]:
        """Optimizer steps in the whole run; None for a data iterable without a length."""
        per_epoch = self._batches_per_epoch()
        return per_epoch * self.config.epochs if per_epoch is not None else None

    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def request_stop(self) -> None:
        """End training after the current step (or evaluation), writing ``last.pth``; ``fit`` returns "stopped"."""
        self.stop_requested = True

    def call_hooks(self, point: str, *args) -> None:
        """Calls ``point`` (a :class:`TrainerHook` method name) on every hook, in order."""
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    # ----------------------------------------------------------------------------------------------- checkpoints
    def checkpoint(self) -> dict[str, Any]:
        return {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.state.epoch, "iteration": self.state.iteration,
                "epoch_iteration": self.state.epoch_iteration, "best_ap": self.state.best_ap,
                "metrics": self.state.metrics, "rng": rng_state(), **self.config.checkpoint_extras}

    def save(self, *names: str) -> None:
        if not self.main:
            return
        payload = self.checkpoint()
        for name in names:
            save_atomically(payload, os.path.join(self.checkpoint_dir, name))

    def resume_from(self, checkpoint: dict[str, Any]) -> None:
        """Continue the run ``checkpoint`` was taken from (weights are expected to be loaded already)."""
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.state = TrainState(checkpoint["epoch"], checkpoint["iteration"], checkpoint["epoch_iteration"],
                                checkpoint.get("best_ap", -1.0), checkpoint.get("metrics", {}))
        restore_rng_state(checkpoint["rng"])

    # ------------------------------------------------------------------------------------------------- the loop
    def fit(self) -> str:
        """Train to the last epoch: returns ``"done"``, ``"interrupted"`` (a signal) or ``"stopped"`` (a hook); a
        checkpoint was written in every case."""
        self.call_hooks("before_train")
        try:
            return self._run()
        finally:
            self.call_hooks("after_train")

    def _batches_per_epoch(self) -> Optional[int]:
        if isinstance(self.train_data, EpochSeededDataset):
            return len(plan_epoch(self.train_data, self.config.batch_size, 0, self.config.seed))
        return len(self.train_data) if hasattr(self.train_data, "__len__") else None

    def _run(self) -> str:
        epochs = self.config.epochs
        with StopRequest() as stop:
            while self.state.epoch < epochs:
                epoch = self.state.epoch
                if not self._train_epoch(self._epoch_batches(epoch), stop):
                    self.save("last.pth")
                    return "stopped" if self.stop_requested else "interrupted"
                self.state.epoch, self.state.epoch_iteration = epoch + 1, 0
                self.call_hooks("after_epoch", epoch)
                self.model.train()
                self.save("last.pth", f"epoch_{epoch + 1:03d}.pth")
                self.call_hooks("after_checkpoint", os.path.join(self.checkpoint_dir, "last.pth"))
                if distributed.any_rank(stop.requested or self.stop_requested, self.device):
                    if self.state.epoch >= epochs:
                        return "done"
                    return "stopped" if self.stop_requested else "interrupted"
        return "done"

    def _epoch_batches(self, epoch: int) -> Iterable:
        """The rest of ``epoch``'s batches (those after ``state.epoch_iteration``)."""
        if isinstance(self.train_data, EpochSeededDataset):
            config = self.config
            batches = plan_epoch(self.train_data, config.batch_size, epoch, config.seed)
            return train_loader(self.train_data, batches, epoch, config.workers, self.state.epoch_iteration)
        sampler = getattr(self.train_data, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        return itertools.islice(self.train_data, self.state.epoch_iteration, None)

    def _train_epoch(self, loader: Iterable, stop: StopRequest) -> bool:
        """Steps through the rest of the epoch; False if a stop was requested before its end."""
        self.model.train()
        iterator = iter(loader)
        while True:
            if distributed.any_rank(stop.requested or self.stop_requested, self.device):
                return False
            try:
                images, targets = next(iterator)
            except StopIteration:
                return True
            except RuntimeError:
                if stop.requested:  # workers got the same Ctrl-C and died: the stop is what matters
                    return False
                raise
            losses = self._step(images, targets)
            self.state.iteration += 1
            self.state.epoch_iteration += 1
            self.call_hooks("after_step", losses)
            if self.config.save_every and self.state.iteration % self.config.save_every == 0:
                self.save("last.pth")

    def _step(self, images: list, targets: list) -> dict[str, float]:
        device = self.device
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
                   for t in targets]
        self.call_hooks("before_step", images, targets)
        with fast_mode(device, self.config.fast_mode):
            loss_dict = self.model(images, targets)
        loss = sum(loss_dict.values())
        reported = distributed.average_across_ranks({k: v.detach() for k, v in loss_dict.items()})
        values = {k: float(v) for k, v in reported.items()}
        if not all(math.isfinite(v) for v in values.values()):
            described = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            raise NonFiniteLossError(f"non-finite loss at iteration {self.state.iteration + 1} (epoch "
                                     f"{self.state.epoch + 1}): {described}; stopped before updating the weights, "
                                     f"the last checkpoint is kept (try a lower learning rate)")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.hooks:
            self.scaler.unscale_(self.optimizer)  # hooks see the true gradients (a no-op without loss scaling)
            self.call_hooks("after_backward")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        values["loss"] = sum(values.values())
        return values
