"""The training loop is extended without editing it: hooks written as a user would write them act, a user's own
DataLoader trains, and a model without masks (Faster R-CNN) trains and is evaluated on boxes."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import maskrcnn
from dataset import CocoInstanceDataset, ShapesConfig, coco2017_paths, collate_fn, generate_shapes_dataset
from maskrcnn.engine import TrainConfig, Trainer, TrainerHook, eval_loader
from transforms import eval_transforms

TINY = dict(backbone_name="resnet18", num_classes=5, min_size=64, max_size=96, fpn_channels=32,
            box_representation_size=64, mask_head_channels=32, rpn_pre_nms_top_n_train=200,
            rpn_post_nms_top_n_train=100, rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=50,
            box_batch_size_per_image=32, box_detections_per_img=10)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    config = ShapesConfig(image_size=(64, 96), object_size=(14, 40), objects_per_image=(1, 3))
    root = generate_shapes_dataset(str(tmp_path_factory.mktemp("data") / "shapes"), num_train=6, num_val=2, seed=1,
                                   config=config)
    train = CocoInstanceDataset(*coco2017_paths(root, "train"), eval_transforms(), filter_empty=True)
    val = CocoInstanceDataset(*coco2017_paths(root, "val"), eval_transforms())
    return train, val


def make_trainer(shapes, tmp_path, hooks=(), masks=True, epochs=1, with_val=False, seed=0, eval_every=1):
    """A tiny detector trained on a user's own DataLoader (no shuffling, batch 2) with plain SGD."""
    train, val = shapes
    torch.manual_seed(seed)
    model = maskrcnn.optimize(maskrcnn.resnet_fpn_detector(masks=masks, **TINY))
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    loader = DataLoader(train, batch_size=2, shuffle=False, collate_fn=collate_fn)
    config = TrainConfig(epochs=epochs, output=str(tmp_path), eval_every=eval_every)
    return Trainer(model, optimizer, scheduler, loader, config, val_loader=eval_loader(val, 2, 0) if with_val else None,
                   hooks=hooks)


class GradientClipping(TrainerHook):
    def __init__(self, max_norm):
        self.max_norm = max_norm
        self.norms = []

    def after_backward(self, trainer):
        before = torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), self.max_norm)
        after = torch.nn.utils.get_total_norm([p.grad for p in trainer.model.parameters() if p.grad is not None])
        self.norms.append((float(before), float(after)))


class ExponentialMovingAverage(TrainerHook):
    def __init__(self, decay):
        self.decay = decay
        self.average = None

    def after_step(self, trainer, losses):
        weights = {k: v.detach().clone() for k, v in trainer.module.state_dict().items() if v.is_floating_point()}
        if self.average is None:
            self.average = weights
        else:
            for name, value in weights.items():
                self.average[name].mul_(self.decay).add_(value, alpha=1 - self.decay)


class WeightsAfterEachStep(TrainerHook):
    def __init__(self):
        self.history = []

    def after_step(self, trainer, losses):
        self.history.append(trainer.module.backbone.fpn.layer_blocks[0][0].weight.detach().clone())


def test_gradient_clipping_hook_clips_every_step_and_changes_training(shapes, tmp_path):
    clipping = GradientClipping(max_norm=0.05)
    clipped = make_trainer(shapes, tmp_path / "clipped", hooks=[clipping])
    unclipped = make_trainer(shapes, tmp_path / "unclipped")
    assert clipped.fit() == unclipped.fit() == "done"
    assert len(clipping.norms) == clipped.state.iteration == 3
    assert all(before > 0.05 and after <= 0.05 * (1 + 1e-4) for before, after in clipping.norms)
    a = clipped.module.roi_heads.box_predictor.cls_score.weight
    b = unclipped.module.roi_heads.box_predictor.cls_score.weight
    assert not torch.allclose(a, b)


def test_ema_hook_averages_the_weights_after_every_step(shapes, tmp_path):
    ema, recorder = ExponentialMovingAverage(decay=0.5), WeightsAfterEachStep()
    trainer = make_trainer(shapes, tmp_path, hooks=[ema, recorder], epochs=2)
    assert trainer.fit() == "done"
    history = recorder.history
    assert len(history) == trainer.state.iteration == 6
    expected = history[0]
    for weights in history[1:]:
        expected = 0.5 * expected + 0.5 * weights
    torch.testing.assert_close(ema.average["backbone.fpn.layer_blocks.0.0.weight"], expected)
    assert not torch.equal(expected, history[-1])


def test_early_stopping_hook_ends_training_with_a_checkpoint(shapes, tmp_path):
    class StopAfterFirstEvaluation(TrainerHook):
        def after_evaluation(self, trainer, metrics):
            self.metrics = metrics
            trainer.request_stop()

    stopper = StopAfterFirstEvaluation()
    trainer = make_trainer(shapes, tmp_path, hooks=[stopper], epochs=3, with_val=True)
    assert trainer.fit() == "stopped"
    assert trainer.state.epoch == 1 and set(stopper.metrics) == {"bbox", "segm", "losses"}
    assert torch.load(tmp_path / "checkpoints" / "last.pth", weights_only=True)["epoch"] == 1


def test_evaluations_every_second_epoch_and_after_the_last(shapes, tmp_path):
    class EvaluatedEpochs(TrainerHook):
        epochs: list = []

        def after_evaluation(self, trainer, metrics):
            self.epochs = self.epochs + [trainer.state.epoch]

    seen = EvaluatedEpochs()
    assert make_trainer(shapes, tmp_path, hooks=[seen], epochs=3, with_val=True, eval_every=2).fit() == "done"
    assert seen.epochs == [2, 3]


def test_a_model_without_masks_trains_and_keeps_its_best_by_box_ap(shapes, tmp_path):
    trainer = make_trainer(shapes, tmp_path, masks=False, epochs=2, with_val=True)
    assert not trainer.module.roi_heads.has_mask()
    assert trainer.fit() == "done"
    assert set(trainer.state.metrics) == {"bbox", "losses"}
    assert trainer.state.best_ap == max(trainer.state.best_ap, trainer.state.metrics["bbox"]["AP"])
    best = torch.load(tmp_path / "checkpoints" / "best.pth", weights_only=True)
    assert best["best_ap"] == trainer.state.best_ap
    model = maskrcnn.resnet_fpn_detector(masks=False, **TINY)
    model.load_state_dict(best["model"])  # the checkpoint is a plain Faster R-CNN state_dict


def test_validation_losses_equal_torchvisions_losses_with_frozen_statistics_and_change_no_state(shapes):
    """The same weights in torchvision's model, in training mode with batch norm in eval mode, same seed: the same
    losses. Our call leaves batch norm statistics, the mode and torch's random state as they were."""
    from torchvision.models.detection import MaskRCNN as TvMaskRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone as tv_resnet_fpn_backbone

    from maskrcnn.engine import validation_losses

    _, val = shapes
    kwargs = {k: v for k, v in TINY.items() if k not in ("backbone_name", "fpn_channels", "box_representation_size",
                                                         "mask_head_channels")}
    torch.manual_seed(0)
    reference = TvMaskRCNN(tv_resnet_fpn_backbone(backbone_name="resnet18", weights=None,
                                                  norm_layer=torch.nn.BatchNorm2d, trainable_layers=5), **kwargs)
    ours = maskrcnn.optimize(maskrcnn.resnet_fpn_detector(backbone_name="resnet18", **kwargs))
    ours.load_state_dict(reference.state_dict())
    ours.eval()
    statistics = {k: v.clone() for k, v in ours.state_dict().items()}
    rng = torch.get_rng_state()
    loader = eval_loader(val, 2, 0)
    got = validation_losses(ours, loader, torch.device("cpu"), seed=4)
    assert not ours.training and torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, statistics[k]) for k, v in ours.state_dict().items())
    reference.train()
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
    sums, count = {}, 0
    torch.manual_seed(4)
    with torch.no_grad():
        for images, targets in loader:
            for name, value in reference(images, targets).items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(images)
            count += len(images)
    assert set(got) == set(sums) | {"loss"}
    for name, total in sums.items():
        assert got[name] == pytest.approx(total / count, rel=1e-4, abs=1e-6), name
    assert got["loss"] == pytest.approx(sum(got[name] for name in sums))
