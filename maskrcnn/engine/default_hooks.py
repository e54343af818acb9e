"""The hooks every :class:`~.trainer.Trainer` installs unless told otherwise (:meth:`Trainer.build_hooks`): the
progress bar, the evaluation after each epoch, best-checkpoint keeping and TensorBoard logging.

Remove one with ``trainer.hooks = [h for h in trainer.hooks if not isinstance(h, BestCheckpoint)]``, replace them
all by overriding ``build_hooks`` in a subclass (detectron2's ``DefaultTrainer.build_hooks`` works the same way).
Only rank 0 shows progress and writes files; every rank takes the same decisions.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from torch.utils.data import DataLoader
from tqdm import tqdm

from . import distributed
from .hooks import TrainerHook
from .inference import evaluate_on_coco, primary_ap, validation_losses

if TYPE_CHECKING:
    from .trainer import Trainer


class ProgressBar(TrainerHook):
    """A tqdm bar over all the run's steps, with the epoch, the loss (and mask loss) and the learning rate."""

    def __init__(self) -> None:
        self.bar: Optional[tqdm] = None

    def before_train(self, trainer: Trainer) -> None:
        total = trainer.total_steps()
        self.bar = tqdm(total=total, initial=min(trainer.state.iteration, total or trainer.state.iteration),
                        disable=not trainer.main, dynamic_ncols=True, desc="train", unit="it")

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        if self.bar is None or not trainer.main:
            return
        self.bar.update(1)
        mask = f"mask {losses['loss_mask']:.3f} " if "loss_mask" in losses else ""
        self.bar.set_postfix_str(f"epoch {trainer.state.epoch + 1}/{trainer.config.epochs} loss {losses['loss']:.3f} "
                                 f"{mask}lr {trainer.learning_rate():.2e}", refresh=False)

    def after_train(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()  # ends the bar's line, so whatever is printed next starts a line of its own
            self.bar = None


class Evaluation(TrainerHook):
    """COCO evaluation and the validation losses on ``loader`` (a loader over a ``CocoInstanceDataset``) after
    every ``every``-th epoch and after the last one; the results go to ``trainer.state.metrics`` and to every
    hook's ``after_evaluation``. The first ``keep_outputs`` (image, output) pairs stay in ``self.outputs`` for a
    preview."""

    def __init__(self, loader: DataLoader, every: int = 1, keep_outputs: int = 0) -> None:
        self.loader, self.every, self.keep_outputs = loader, every, keep_outputs
        self.outputs: list = []

    def after_epoch(self, trainer: Trainer, epoch: int) -> None:
        if (epoch + 1) % self.every and epoch + 1 != trainer.config.epochs:
            return
        started = time.perf_counter()
        config = trainer.config
        metrics, _, _, self.outputs = evaluate_on_coco(trainer.module, self.loader, trainer.device,
                                                       fast_mode=config.fast_mode, keep_outputs=self.keep_outputs)
        losses = validation_losses(trainer.module, self.loader, trainer.device, config.fast_mode, seed=config.seed)
        if trainer.main:
            trainer.state.metrics = {**metrics, "losses": losses}
            iou_type, ap = primary_ap(metrics)
            primary = f"  {iou_type} AP {ap:.3f}" if iou_type != "bbox" else ""
            tqdm.write(f"epoch {epoch + 1}: bbox AP {metrics['bbox']['AP']:.3f}{primary}  "
                       f"(AP50 {metrics[iou_type]['AP50']:.3f})  val loss {losses['loss']:.3f}, evaluated in "
                       f"{time.perf_counter() - started:.0f} s")
        trainer.call_hooks("after_evaluation", trainer.state.metrics if trainer.main else {})
        trainer.model.train()


class BestCheckpoint(TrainerHook):
    """Keeps ``best.pth``: a copy of the epoch's checkpoint when its AP (segm, or bbox for a model without masks)
    is the best so far. The best AP is ``trainer.state.best_ap``, saved in every checkpoint, so it survives a
    resume. Rank 0 decides, all ranks agree."""

    def __init__(self, name: str = "best.pth") -> None:
        self.name = name
        self.improved = False

    def after_evaluation(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        improved = False
        if trainer.main:
            _, ap = primary_ap(metrics)
            improved = ap > trainer.state.best_ap
            trainer.state.best_ap = max(trainer.state.best_ap, ap)
        self.improved = bool(distributed.all_gather_objects(improved)[0])

    def after_checkpoint(self, trainer: Trainer, path: str) -> None:
        if self.improved and trainer.main:
            best = os.path.join(os.path.dirname(path), self.name)
            partial = best + ".partial"
            shutil.copyfile(path, partial)
            os.replace(partial, best)  # atomic: best.pth is whole, old or new
        self.improved = False


class TensorBoardLogger(TrainerHook):
    """Writes the losses and learning rate every ``log_every`` steps (and the first) as ``train/*``, each
    evaluation's figures and validation losses as ``val/*``, and calls ``preview(outputs, iteration)`` with the
    evaluation's kept outputs, if given."""

    def __init__(self, writer, log_every: int = 20,
                 preview: Optional[Callable[[list, int], None]] = None) -> None:
        self.writer, self.log_every, self.preview = writer, log_every, preview

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        iteration = trainer.state.iteration
        if iteration % self.log_every == 0 or iteration == 1:
            for name, value in losses.items():
                self.writer.add_scalar(f"train/{name}", value, iteration)
            self.writer.add_scalar("train/lr", trainer.learning_rate(), iteration)

    def after_evaluation(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        iteration = trainer.state.iteration
        for iou_type, values in metrics.items():
            prefix = "val/" if iou_type == "losses" else f"val/{iou_type}_"
            for name, value in values.items():
                if isinstance(value, float):
                    self.writer.add_scalar(prefix + name, value, iteration)
        if self.preview is not None:
            evaluation = next((h for h in trainer.hooks if isinstance(h, Evaluation)), None)
            if evaluation is not None and evaluation.outputs:
                self.preview(evaluation.outputs, iteration)
        self.writer.flush()
