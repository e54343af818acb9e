"""Detection transforms: each is called as ``transform(image, target) -> (image, target)`` and keeps the image, the
boxes and the masks consistent (see ``compose.py`` for the conventions).
"""
from .compose import Compose, ToTensor
from .copy_paste import CopyPasteDataset, augmented_dataset, paste_objects
from .crop import FixedSizeCrop
from .flip import RandomHorizontalFlip, hflip
from .instances import PER_INSTANCE_KEYS, remove_collapsed_instances, select_instances
from .photometric import RandomPhotometricDistort
from .presets import POLICIES, SIZED_BY_AUGMENTATION, eval_transforms, train_transforms
from .resize import RandomShortestSize, ScaleJitter, resize

__all__ = ["Compose", "ToTensor", "RandomHorizontalFlip", "RandomShortestSize", "RandomPhotometricDistort",
           "ScaleJitter", "FixedSizeCrop", "hflip", "resize", "remove_collapsed_instances", "select_instances",
           "PER_INSTANCE_KEYS", "POLICIES", "SIZED_BY_AUGMENTATION", "train_transforms", "eval_transforms",
           "CopyPasteDataset", "augmented_dataset", "paste_objects"]
