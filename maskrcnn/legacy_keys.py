"""Renaming of checkpoint keys from torchvision's first detection release (module ``_version`` < 2).

torch saves each module's ``_version`` in a state_dict's metadata; a file without it counts as old. Modules whose
layout changed call :func:`rename_legacy_keys` from their ``_load_from_state_dict`` hook.
"""
from __future__ import annotations

from typing import Iterable


def rename_legacy_keys(state_dict: dict, prefix: str, local_metadata: dict,
                       renames: Iterable[tuple[str, str]]) -> None:
    """For a version < 2 entry, moves ``prefix + old`` to ``prefix + new`` for each ``(old, new)``, in place."""
    if (local_metadata.get("version") or 1) >= 2:
        return
    for old, new in renames:
        if prefix + old in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)
