"""Training, evaluation and prediction machinery behind ``tools/``: model configs, data loading, the training loop,
checkpoints, COCO evaluation, predictors (PyTorch and ONNX) and torchrun support."""
from .checkpointing import load_training_checkpoint, newest_checkpoint, save_atomically
from .coco_evaluation import STAT_NAMES, evaluate_results, prediction_to_results
from .data_loading import EpochSeededDataset, eval_loader, iterations_per_epoch
from .default_hooks import BestCheckpoint, Evaluation, ProgressBar, TensorBoardLogger
from .hooks import TrainerHook
from .inference import collect_results, evaluate_on_coco, has_masks, primary_ap, validation_losses
from .loading import load_detector
from .lr_schedule import warmup_multistep_lr
from .model_config import BACKBONES, ModelConfig, build_model
from .predictor import (
    ExportedPredictor,
    OnnxPredictor,
    OpenVinoPredictor,
    Predictor,
    TorchPredictor,
    open_exported,
    open_predictor,
)
from .trainer import NonFiniteLossError, TrainConfig, Trainer

__all__ = ["load_training_checkpoint", "newest_checkpoint", "save_atomically", "STAT_NAMES", "evaluate_results",
           "prediction_to_results", "EpochSeededDataset", "eval_loader", "iterations_per_epoch", "collect_results", "load_detector",
           "evaluate_on_coco", "warmup_multistep_lr", "BACKBONES", "ModelConfig", "build_model",
           "NonFiniteLossError", "Trainer", "TrainConfig", "TrainerHook",
           "ProgressBar", "Evaluation", "BestCheckpoint", "TensorBoardLogger", "has_masks", "primary_ap", "validation_losses",
           "Predictor", "TorchPredictor", "OnnxPredictor", "open_predictor", "ExportedPredictor",
           "OpenVinoPredictor", "open_exported"]
