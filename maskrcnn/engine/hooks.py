"""Extension points of the training loop: subclass :class:`TrainerHook`, override what you need, pass it to
``Trainer(hooks=[...])``. The loop itself never needs editing.

Order: ``before_train``; then within a step: ``before_step`` -> forward, loss check, backward -> ``after_backward``
(gradients ready, not yet applied; under a ``GradScaler`` they are already unscaled) -> optimizer and schedule step
-> ``after_step``. After the last step of an epoch: ``after_epoch`` (where :class:`~.default_hooks.Evaluation` runs
and calls ``after_evaluation`` on every hook), then ``last.pth`` and ``epoch_NNN.pth`` are written and
``after_checkpoint`` is called; ``after_train`` at the end, whatever ended it. ``trainer.request_stop()`` from any
hook ends training after the current step or evaluation, with a checkpoint.

Hooks are called in ``trainer.hooks`` order: the defaults of :meth:`Trainer.build_hooks` first, then the user's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: at run time the hooks receive the trainer and never import it
    from .trainer import Trainer


class TrainerHook:
    """Does nothing at every point; each method receives the :class:`~maskrcnn.engine.trainer.Trainer`, whose
    ``model``, ``module`` (unwrapped from DDP), ``optimizer``, ``scheduler``, ``config`` and ``state`` (epoch,
    iteration, metrics, best AP) it may read or change."""

    def before_train(self, trainer: Trainer) -> None:
        """``fit`` starts (a fresh run, or a resumed one: ``trainer.state`` says where)."""

    def before_step(self, trainer: Trainer, images: list, targets: list) -> None:
        """The batch is on the device, the model not yet called."""

    def after_backward(self, trainer: Trainer) -> None:
        """Gradients are computed and not yet applied: clip, inspect or modify them here."""

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        """The weights have changed; ``losses`` are this step's values (averaged over ranks), plus ``"loss"``."""

    def after_epoch(self, trainer: Trainer, epoch: int) -> None:
        """Epoch ``epoch`` (from 0) has ended; ``trainer.state.epoch`` is already ``epoch + 1``."""

    def after_evaluation(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        """``metrics`` as ``evaluate_on_coco`` returns them (``{"bbox": {...}, "segm": {...}}``) plus ``"losses"``,
        the validation losses; on ranks other than 0 they are empty."""

    def after_checkpoint(self, trainer: Trainer, path: str) -> None:
        """The end-of-epoch checkpoint is written to ``path`` (on rank 0; other ranks get the same path)."""

    def after_train(self, trainer: Trainer) -> None:
        """``fit`` ends: done, stopped, interrupted or raised."""
