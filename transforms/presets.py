"""Named augmentation policies, as torchvision's reference ``DetectionPresetTrain`` offers them.

* ``hflip``: horizontal flip only (the COCO default of torchvision's Mask R-CNN recipe);
* ``multiscale``: short side drawn from 480..800 (step 32, long side <= 1333) + flip;
* ``lsj``: large-scale jitter to 1024 x 1024 (ScaleJitter 0.1-2.0 + FixedSizeCrop) + flip;
* ``copypaste``: ``lsj``, then objects of another sample pasted on (:mod:`.copy_paste`; torchvision's references
  require LSJ for copy-paste too);
* ``photometric``: colour distortion + flip (the built-in shapes recipe: colour is not the cue to learn).

With ``multiscale``, ``lsj`` and ``copypaste`` the sizes come from the augmentation, so the model skips its own
resize in training (torchvision's ``_skip_resize``). Evaluation uses no augmentation: the model's transform does the
resizing.
"""
from __future__ import annotations

from .compose import Compose, ToTensor
from .crop import FixedSizeCrop
from .flip import RandomHorizontalFlip
from .photometric import RandomPhotometricDistort
from .resize import RandomShortestSize, ScaleJitter

POLICIES = ("hflip", "multiscale", "lsj", "copypaste", "photometric")
#: Policies whose images already have their training size: the model's transform must not resize them again.
SIZED_BY_AUGMENTATION = ("multiscale", "lsj", "copypaste")


def train_transforms(policy: str = "hflip", hflip_prob: float = 0.5) -> Compose:
    if policy == "hflip":
        steps = [RandomHorizontalFlip(hflip_prob)]
    elif policy == "multiscale":
        steps = [RandomShortestSize(list(range(480, 801, 32)), max_size=1333), RandomHorizontalFlip(hflip_prob)]
    elif policy in ("lsj", "copypaste"):  # copy-paste itself runs on pairs of samples: CopyPasteDataset
        steps = [ScaleJitter((1024, 1024)), FixedSizeCrop((1024, 1024)), RandomHorizontalFlip(hflip_prob)]
    elif policy == "photometric":
        steps = [RandomPhotometricDistort(), RandomHorizontalFlip(hflip_prob)]
    else:
        raise ValueError(f"unknown augmentation policy {policy!r}; expected one of {', '.join(POLICIES)}")
    return Compose([ToTensor(), *steps])


def eval_transforms() -> Compose:
    return Compose([ToTensor()])
