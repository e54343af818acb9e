"""What a ``weights=`` / ``weights_backbone=`` argument may be, and reading the state_dict it names.

Every builder takes, as torchvision's do:

* ``None``: nothing is loaded;
* one of torchvision's weight enums (``MaskRCNN_ResNet50_FPN_Weights.COCO_V1``; ``maskrcnn`` exports the same
  classes under the same names), checked against the builder's enum class as torchvision's ``verify`` does;
* a member's name: ``"DEFAULT"``, ``"COCO_V1"``, ``"IMAGENET1K_V1"``, or ``"ClassName.MEMBER"``;
* ours beyond torchvision: a local checkpoint file (a path, or a string naming an existing file).

An enum's file is read through torchvision's own loader (``WeightsEnum.get_state_dict``: ``torch.hub``'s download
into ``$TORCH_HOME/hub/checkpoints/`` with its hash check), so a file torchvision has downloaded is reused as it is.
Without a network and without the file, :class:`WeightsUnavailableError` says in one line which URL to fetch and
where to put it.
"""
from __future__ import annotations

import functools
import os
import socket
import urllib.error
from collections import OrderedDict
from typing import Any, Callable, Optional, TypeVar, Union, cast
from urllib.parse import urlparse

import torch
from torch import Tensor
from torchvision.models import (
    MobileNet_V3_Large_Weights,
    MobileNet_V3_Small_Weights,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    WeightsEnum,
    get_weight,
)
from torchvision.models._utils import handle_legacy_interface

from .checkpoint import CheckpointError, load_state_dict_file, load_state_dict_into

#: What a ``weights`` argument may hold.
WeightsArg = Union[WeightsEnum, str, os.PathLike, None]

#: ImageNet weights of each classification network a detector's backbone can be.
BACKBONE_WEIGHTS: dict[str, type[WeightsEnum]] = {
    "resnet18": ResNet18_Weights, "resnet34": ResNet34_Weights, "resnet50": ResNet50_Weights,
    "resnet101": ResNet101_Weights, "resnet152": ResNet152_Weights,
    "mobilenet_v3_large": MobileNet_V3_Large_Weights, "mobilenet_v3_small": MobileNet_V3_Small_Weights,
}

#: A download's socket stays silent this long at most before it counts as offline (no hang without a network).
DOWNLOAD_TIMEOUT_S = 30.0


class WeightsUnavailableError(CheckpointError):
    """The file of a weights enum is neither in the cache nor downloadable."""


def cached_file(weights: WeightsEnum) -> str:
    """Where ``torch.hub`` (and so torchvision) keeps ``weights``' file: ``<hub dir>/checkpoints/<file name>``."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(weights.url).path))


def resolve_weights(weights: WeightsArg, enum_class: Optional[type[WeightsEnum]],
                    argument: str = "weights") -> Union[WeightsEnum, str, None]:
    """``None``, a member of ``enum_class``, or the path of a local file.

    A string that names an existing file is that file; otherwise it must be a member's name (``"DEFAULT"``,
    ``"COCO_V1"``, ``"ClassName.MEMBER"``). ``enum_class`` None: only files are possible (no published weights).
    Raises ``TypeError`` for an enum of another class (torchvision's ``verify``) and :class:`CheckpointError` for a
    string that is neither.
    """
    if weights is None:
        return None
    if isinstance(weights, WeightsEnum):
        if enum_class is None:
            raise TypeError(f"{argument}: no published weights exist for this model; give a checkpoint file or None, "
                            f"not {weights}")
        return enum_class.verify(weights)
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a weights enum, its name, a file path or None, "
                        f"not {type(weights).__name__}")
    path = os.fspath(weights)
    if os.path.exists(path) or not isinstance(weights, str):
        return path
    member = weights_member(path, enum_class)
    if member is not None:
        return member
    names = f" or {enum_class.__name__}: {', '.join(dict.fromkeys(['DEFAULT', *enum_class.__members__]))}" \
        if enum_class is not None else ""
    raise CheckpointError(f"weights file not found: {weights} ({argument}: expected a checkpoint file{names})")


def weights_member(name: str, enum_class: Optional[type[WeightsEnum]]) -> Optional[WeightsEnum]:
    """The member ``name`` names (``"DEFAULT"``, ``"COCO_V1"``, ``"ClassName.MEMBER"``) in ``enum_class``, or None."""
    if enum_class is None:
        return None
    member_name = name.replace(enum_class.__name__ + ".", "")
    if member_name == "DEFAULT" or member_name in enum_class.__members__:
        return enum_class[member_name]
    return None


def find_weights(name: str) -> Optional[WeightsEnum]:
    """torchvision's weights named ``"ClassName.MEMBER"`` (any model), or None (``torchvision.models.get_weight``)."""
    if "." not in name or os.path.exists(name):
        return None
    try:
        return get_weight(name)
    except (ValueError, KeyError):
        return None


def download_state_dict(weights: WeightsEnum, progress: bool = True) -> OrderedDict[str, Tensor]:
    """``weights.get_state_dict`` (torchvision's loader: cache first, else download with its hash check), with a
    one-line :class:`WeightsUnavailableError` when the file cannot be had."""
    target = cached_file(weights)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S if previous_timeout is None else previous_timeout)
    try:
        return weights.get_state_dict(progress=progress, check_hash=True)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise WeightsUnavailableError(
            f"cannot download {weights} ({reason}): fetch {weights.url} and place it at {target}, or build without "
            f"downloading (weights=None, weights_backbone=None)") from None
    except RuntimeError as error:  # torch.hub's hash check, or a corrupt file in the cache
        raise WeightsUnavailableError(f"{weights}: {str(error).strip().splitlines()[0]} (file: {target}); delete it "
                                      f"and fetch {weights.url} again") from None
    finally:
        socket.setdefaulttimeout(previous_timeout)


def fetch_file(weights: WeightsEnum, progress: bool = True) -> str:
    """The path of ``weights``' file in torch.hub's cache, downloaded first if it is not there."""
    path = cached_file(weights)
    if not os.path.isfile(path):
        download_state_dict(weights, progress)
    return path


def read_weights(weights: Union[WeightsEnum, str], progress: bool = True) -> OrderedDict[str, Tensor]:
    """The state_dict of a resolved ``weights`` (see :func:`resolve_weights`): an enum's file, or a checkpoint file."""
    if isinstance(weights, WeightsEnum):
        return download_state_dict(weights, progress)
    return load_state_dict_file(weights)


def weights_name(weights: Union[WeightsEnum, str]) -> str:
    """How messages name resolved weights: the enum member, or the file."""
    return str(weights) if isinstance(weights, WeightsEnum) else os.fspath(weights)


def overwrite_num_classes(weights: Union[WeightsEnum, str, None], num_classes: Optional[int]) -> Optional[int]:
    """The class count an enum's weights fix (``len(meta["categories"])``): torchvision's ``ValueError`` when
    ``num_classes`` says otherwise. A file or None leaves ``num_classes`` as given."""
    if not isinstance(weights, WeightsEnum):
        return num_classes
    fixed = len(weights.meta["categories"])
    if num_classes is not None and num_classes != fixed:
        raise ValueError(f"The parameter 'num_classes' expected value {fixed} but got {num_classes} instead.")
    return fixed


def load_resolved(model: torch.nn.Module, weights: Union[WeightsEnum, str, None], progress: bool = True,
                  class_specific: tuple[str, ...] = ()) -> None:
    """Loads resolved ``weights`` into ``model`` (nothing for None); an enum's ``meta`` becomes ``model.meta``.
    ``class_specific``: key prefixes that may start fresh when a file has another number of classes."""
    if weights is None:
        return
    load_state_dict_into(model, read_weights(weights, progress), weights_name(weights), class_specific)
    if isinstance(weights, WeightsEnum):
        model.meta = dict(weights.meta)


Builder = TypeVar("Builder", bound=Callable[..., Any])


def legacy_interface(**legacy: tuple[str, Any]) -> Callable[[Builder], Builder]:
    """torchvision's ``handle_legacy_interface`` for a builder: positional arguments and ``pretrained=True`` still
    work, with torchvision's deprecation warnings. ``legacy`` maps each weights argument to ``(old name, weights
    for True)``. A path object given as weights is passed on as a string (torchvision would read it as
    ``pretrained``)."""
    def decorate(builder: Builder) -> Builder:
        torchvision_interface = handle_legacy_interface(**legacy)(builder)

        @functools.wraps(builder)
        def call(*args: Any, **kwargs: Any) -> Any:
            for name in legacy:
                if isinstance(kwargs.get(name), os.PathLike):
                    kwargs[name] = os.fspath(kwargs[name])
            return torchvision_interface(*args, **kwargs)
        return cast(Builder, call)
    return decorate
