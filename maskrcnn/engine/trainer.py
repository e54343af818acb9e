"""The training loop: steps, logging, evaluation after each epoch, checkpoints, interruption and resumption.

``Trainer.fit()`` runs from wherever ``state`` says (a fresh run or a resumed checkpoint) to the last epoch:

* every step: forward (under fast mode if asked), a check that every loss is finite (else
  :class:`NonFiniteLossError` naming the step and the losses, before any weight changes), backward, optimizer and
  schedule steps, with the hooks of :mod:`.hooks` around them;
* Ctrl-C (SIGINT) or SIGTERM: the step in progress finishes, ``last.pth`` is written and ``fit`` returns
  ``"interrupted"``; a second Ctrl-C stops at once; a hook's ``trainer.request_stop()`` ends it the same way
  (``"stopped"``);
* after each epoch: COCO evaluation and the validation losses (:func:`.inference.validation_losses`), then
  ``last.pth``, ``epoch_NNN.pth`` and, when the AP improved (segm AP, or
  bbox AP for a model without masks), ``best.pth``; ``last.pth`` also every ``save_every`` steps, so a killed run
  loses at most that many.

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
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..ops.precision import fast_mode, fast_mode_dtype
from . import distributed
from .checkpointing import restore_rng_state, rng_state, save_atomically
from .data_loading import EpochSeededDataset, plan_epoch, train_loader
from .hooks import TrainerHook
from .inference import evaluate_on_coco, primary_ap, validation_losses


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


class Trainer:
    """Trains ``model`` on ``train_data`` (see the module's docstring) with ``optimizer`` and a per-step
    ``scheduler``; evaluates on ``val_loader`` (a loader over a ``CocoInstanceDataset``), if given, after every
    ``eval_every``-th epoch and after the last one.

    ``batch_size``, ``seed`` and ``workers`` plan the batches of an ``EpochSeededDataset``; a loader brings its own.
    ``fast_mode`` runs forward passes in :func:`maskrcnn.fast_mode`. ``hooks`` extend the loop (:class:`TrainerHook`).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, train_data: Union[EpochSeededDataset, Iterable],
                 val_loader: Optional[DataLoader], device: torch.device, *, epochs: int, output: str,
                 batch_size: int = 2, seed: int = 0, workers: int = 0, fast_mode: bool = False,
                 save_every: int = 0, checkpoint_extras: Optional[dict[str, Any]] = None, writer=None,
                 preview: Optional[Callable[[list, int], None]] = None, log_every: int = 20,
                 hooks: Sequence[TrainerHook] = (), eval_every: int = 1) -> None:
        self.model = model
        self.module = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        self.optimizer, self.scheduler = optimizer, scheduler
        self.train_data, self.val_loader = train_data, val_loader
        self.device = device
        self.epochs, self.batch_size, self.seed, self.workers = epochs, batch_size, seed, workers
        self.checkpoint_dir = os.path.join(output, "checkpoints")
        self.fast_mode = fast_mode
        # fast mode on CUDA is float16, whose small range needs loss scaling; CPU bfloat16 does not
        self.scaler = torch.amp.GradScaler("cuda", enabled=fast_mode and fast_mode_dtype(device) == torch.float16)
        self.save_every = save_every
        self.extras = checkpoint_extras or {}
        self.writer = writer
        self.preview = preview
        self.log_every = log_every
        self.eval_every = eval_every
        self.hooks = list(hooks)
        self.state = TrainState()
        self.main = distributed.is_main_process()
        self.stop_requested = False

    def request_stop(self) -> None:
        """End training after the current step (or evaluation), writing ``last.pth``; ``fit`` returns "stopped"."""
        self.stop_requested = True

    def _call_hooks(self, point: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    # ----------------------------------------------------------------------------------------------- checkpoints
    def checkpoint(self) -> dict[str, Any]:
        return {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.state.epoch, "iteration": self.state.iteration,
                "epoch_iteration": self.state.epoch_iteration, "best_ap": self.state.best_ap,
                "metrics": self.state.metrics, "rng": rng_state(), **self.extras}

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
        per_epoch = self._batches_per_epoch()
        total = per_epoch * self.epochs if per_epoch is not None else None
        bar = tqdm(total=total, initial=min(self.state.iteration, total or self.state.iteration),
                   disable=not self.main, dynamic_ncols=True, desc="train", unit="it")
        try:
            return self._run(bar)
        finally:
            bar.close()  # ends the bar's line, so whatever is printed next starts a line of its own

    def _batches_per_epoch(self) -> Optional[int]:
        if isinstance(self.train_data, EpochSeededDataset):
            return len(plan_epoch(self.train_data, self.batch_size, 0, self.seed))
        return len(self.train_data) if hasattr(self.train_data, "__len__") else None

    def _run(self, bar: tqdm) -> str:
        with StopRequest() as stop:
            while self.state.epoch < self.epochs:
                epoch = self.state.epoch
                if not self._train_epoch(self._epoch_batches(epoch), bar, stop):
                    self.save("last.pth")
                    return "stopped" if self.stop_requested else "interrupted"
                self.state.epoch, self.state.epoch_iteration = epoch + 1, 0
                self._call_hooks("after_epoch", epoch)
                due = (epoch + 1) % self.eval_every == 0 or epoch + 1 == self.epochs
                improved = self._evaluate(epoch) if due else False
                names = ["last.pth", f"epoch_{epoch + 1:03d}.pth"] + (["best.pth"] if improved else [])
                self.save(*names)
                if distributed.any_rank(stop.requested or self.stop_requested, self.device):
                    if self.state.epoch >= self.epochs:
                        return "done"
                    return "stopped" if self.stop_requested else "interrupted"
        return "done"

    def _epoch_batches(self, epoch: int) -> Iterable:
        """The rest of ``epoch``'s batches (those after ``state.epoch_iteration``)."""
        if isinstance(self.train_data, EpochSeededDataset):
            batches = plan_epoch(self.train_data, self.batch_size, epoch, self.seed)
            return train_loader(self.train_data, batches, epoch, self.workers, self.state.epoch_iteration)
        sampler = getattr(self.train_data, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        return itertools.islice(self.train_data, self.state.epoch_iteration, None)

    def _train_epoch(self, loader: Iterable, bar: tqdm, stop: StopRequest) -> bool:
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
            self._call_hooks("after_step", losses)
            self._log(losses, bar)
            if self.save_every and self.state.iteration % self.save_every == 0:
                self.save("last.pth")

    def _step(self, images: list, targets: list) -> dict[str, float]:
        device = self.device
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
                   for t in targets]
        self._call_hooks("before_step", images, targets)
        with fast_mode(device, self.fast_mode):
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
            self._call_hooks("after_backward")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        values["loss"] = sum(values.values())
        return values

    def _log(self, losses: dict[str, float], bar: tqdm) -> None:
        if not self.main:
            return
        lr = self.optimizer.param_groups[0]["lr"]
        bar.update(1)
        mask = f"mask {losses['loss_mask']:.3f} " if "loss_mask" in losses else ""
        bar.set_postfix_str(f"epoch {self.state.epoch + 1}/{self.epochs} loss {losses['loss']:.3f} {mask}"
                            f"lr {lr:.2e}", refresh=False)
        if self.writer is not None and (self.state.iteration % self.log_every == 0 or self.state.iteration == 1):
            for name, value in losses.items():
                self.writer.add_scalar(f"train/{name}", value, self.state.iteration)
            self.writer.add_scalar("train/lr", lr, self.state.iteration)

    def _evaluate(self, epoch: int) -> bool:
        """COCO evaluation after ``epoch``; True when the AP (segm, or bbox without masks) is the best so far (rank
        0 decides, all ranks agree)."""
        if self.val_loader is None:
            return False
        started = time.perf_counter()
        metrics, table, _, kept = evaluate_on_coco(self.module, self.val_loader, self.device,
                                                   fast_mode=self.fast_mode,
                                                   keep_outputs=4 if self.preview is not None else 0)
        losses = validation_losses(self.module, self.val_loader, self.device, self.fast_mode, seed=self.seed)
        improved = False
        if self.main:
            self.state.metrics = {**metrics, "losses": losses}
            iou_type, ap = primary_ap(metrics)
            improved = ap > self.state.best_ap
            self.state.best_ap = max(self.state.best_ap, ap)
            segm = f"  segm AP {ap:.3f}" if iou_type == "segm" else ""
            tqdm.write(f"epoch {epoch + 1}: bbox AP {metrics['bbox']['AP']:.3f}{segm}  "
                       f"(AP50 {metrics[iou_type]['AP50']:.3f})  val loss {losses['loss']:.3f}, evaluated in "
                       f"{time.perf_counter() - started:.0f} s")
            if self.writer is not None:
                for iou_type, values in metrics.items():
                    for name, value in values.items():
                        if isinstance(value, float):
                            self.writer.add_scalar(f"val/{iou_type}_{name}", value, self.state.iteration)
                for name, value in losses.items():
                    self.writer.add_scalar(f"val/{name}", value, self.state.iteration)
                if self.preview is not None:
                    self.preview(kept, self.state.iteration)
                self.writer.flush()
        self._call_hooks("after_evaluation", self.state.metrics if self.main else {})
        self.model.train()
        return bool(distributed.all_gather_objects(improved)[0])
