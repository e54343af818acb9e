"""What the optimisation step recognises: standard layers, untouched by hooks.

A layer qualifies only if its type is exactly the standard one (a subclass may have its own ``forward``), no
``forward`` was patched onto the instance, and nothing is hooked on it (running it inside a fused kernel would skip
the hook or the patch). Global hooks (``torch.nn.modules.module.register_module_forward_hook``) are not seen. The fused modules check again on every call,
so a hook registered or a layer swapped after :func:`maskrcnn.optimize` still takes effect.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from ..ops.frozen_batch_norm import FrozenBatchNorm2d

FOLDABLE_NORMS = (nn.BatchNorm2d, FrozenBatchNorm2d)


def unhooked(module: nn.Module) -> bool:
    """No hook on the module and no ``forward`` patched onto it."""
    return not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks or "forward" in vars(module))


def is_conv(module: Optional[nn.Module]) -> bool:
    return type(module) is nn.Conv2d and module.padding_mode == "zeros" and unhooked(module)


def is_foldable_norm(module: Optional[nn.Module]) -> bool:
    return type(module) in FOLDABLE_NORMS and unhooked(module)


def is_relu(module: Optional[nn.Module]) -> bool:
    return type(module) is nn.ReLU and unhooked(module)


def is_conv_norm(layers: nn.Module) -> bool:
    """``Sequential(Conv2d, batch norm)``: ResNet's projection shortcut."""
    return (type(layers) is nn.Sequential and unhooked(layers) and len(layers) == 2 and is_conv(layers[0])
            and is_foldable_norm(layers[1]))


#: The activations a fused convolution carries (see :data:`maskrcnn.ops.fused_conv.ACTIVATIONS`).
FUSABLE_ACTIVATIONS = {nn.ReLU: "relu", nn.Hardswish: "hardswish"}


def activation_name(module: Optional[nn.Module]) -> Optional[str]:
    """"relu" / "hardswish" for an unhooked standard activation of that type, else None."""
    return FUSABLE_ACTIVATIONS.get(type(module)) if module is not None and unhooked(module) else None


def conv_norm_act_parts(block: nn.Module) -> Optional[tuple[nn.Conv2d, Optional[nn.Module], Optional[str]]]:
    """``(conv, norm or None, activation name or None)`` of a ``[Conv2d, batch norm?, ReLU or Hardswish?]``
    sequence, or None if it is not one."""
    layers = list(block)
    if not layers or not is_conv(layers[0]):
        return None
    activation = activation_name(layers[-1]) if len(layers) > 1 else None
    middle = layers[1:-1] if activation else layers[1:]
    if len(middle) > 1 or (middle and not is_foldable_norm(middle[0])):
        return None
    return layers[0], (middle[0] if middle else None), activation
