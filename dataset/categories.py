"""The model's labels and a dataset's category ids and names.

A detector predicts labels ``0..num_classes-1`` (0 is the background). A COCO-format dataset names its categories
by ids of its own choosing (COCO's 1..90 with gaps, a CVAT export's 1, 3, 18, 62, ...). The rule:

* COCO's own 80 categories, and ids that are already ``1..K``: label = category id (torchvision's convention; for
  COCO ``num_classes = 91`` with ``"N/A"`` at the unused ids), so torchvision's COCO checkpoints keep working;
* any other ids: labels ``1..K`` in the order of the ids.

Checkpoints store both lists, so predictions and COCO results are reported with the dataset's own ids and names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

from .coco_names import COCO_CATEGORY_NAMES

BACKGROUND = "__background__"
#: Name of a label no category uses (a gap in COCO's ids).
UNUSED = "N/A"


@dataclass(frozen=True)
class Categories:
    """``ids[label]`` is the dataset's category id of ``label`` and ``names[label]`` its name (index 0: background).

    A keypoint file's categories also name their ``keypoints`` and the ``skeleton`` drawn between them (0-based
    pairs; COCO files count from 1); they describe the keypoints, not the classes, so equality ignores them."""

    ids: tuple[int, ...]
    names: tuple[str, ...]
    keypoints: tuple[str, ...] = field(default=(), compare=False)
    skeleton: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    @property
    def num_classes(self) -> int:
        """Classes including the background: what ``MaskRCNN(num_classes=...)`` needs."""
        return len(self.ids)

    @property
    def num_categories(self) -> int:
        """The dataset's categories (labels other than the background and unused ids)."""
        return sum(1 for name in self.names[1:] if name != UNUSED)

    @classmethod
    def from_coco_categories(cls, categories: Iterable[Mapping[str, Any]]) -> Categories:
        """From a COCO file's ``categories`` list (see the module docstring for the rule)."""
        categories = list(categories)
        by_id = {int(c["id"]): str(c["name"]) for c in categories}
        ids = sorted(by_id)
        declaring = [c for c in categories if c.get("keypoints")]
        keypoints = tuple(str(n) for n in declaring[0]["keypoints"]) if declaring else ()
        skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in declaring[0].get("skeleton") or ()) if declaring else ()
        is_coco = by_id == {i: name for i, name in enumerate(COCO_CATEGORY_NAMES) if i and name != UNUSED}
        if is_coco or ids == list(range(1, len(ids) + 1)):
            names = [UNUSED] * (max(ids, default=0) + 1)
            for i, name in by_id.items():
                names[i] = name
            names[0] = BACKGROUND
            return cls(tuple(range(len(names))), tuple(names), keypoints, skeleton)
        return cls((0, *ids), (BACKGROUND, *(by_id[i] for i in ids)), keypoints, skeleton)

    @classmethod
    def coco(cls) -> Categories:
        """torchvision's COCO convention: 91 labels, label = COCO category id."""
        return cls(tuple(range(len(COCO_CATEGORY_NAMES))), tuple(COCO_CATEGORY_NAMES))

    @classmethod
    def for_model(cls, num_classes: int, names: Sequence[str] = (), ids: Sequence[int] = (),
                  keypoints: Sequence[str] = (), skeleton: Sequence[Sequence[int]] = ()) -> Categories:
        """What a checkpoint says, completed: its ids (else label = id) and names (else COCO's for 91 classes, else
        "class k"), and the keypoints' names and skeleton if it has them."""
        if len(names) != num_classes:
            names = COCO_CATEGORY_NAMES if num_classes == len(COCO_CATEGORY_NAMES) else \
                [BACKGROUND] + [f"class {i}" for i in range(1, num_classes)]
        if len(ids) != num_classes:
            ids = range(num_classes)
        return cls(tuple(int(i) for i in ids), tuple(str(n) for n in names), tuple(str(n) for n in keypoints),
                   tuple((int(a), int(b)) for a, b in skeleton))

    @classmethod
    def from_saved(cls, num_classes: int, saved: Mapping[str, Any]) -> Categories:
        """From :meth:`to_dict`'s record (a checkpoint's or an exported file's), completed by :meth:`for_model`."""
        return cls.for_model(num_classes, saved.get("names") or (), saved.get("ids") or (),
                             saved.get("keypoints") or (), saved.get("skeleton") or ())

    def label_of(self, category_id: int) -> int:
        return self._labels[category_id]

    def has_category(self, category_id: int) -> bool:
        return category_id in self._labels

    def category_id(self, label: int) -> int:
        return self.ids[label] if 0 <= label < len(self.ids) else int(label)

    def name(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else str(label)

    @cached_property
    def _labels(self) -> dict[int, int]:
        return {category_id: label for label, category_id in enumerate(self.ids) if label}

    def to_dict(self) -> dict[str, list]:
        keypoints = {"keypoints": list(self.keypoints), "skeleton": [list(p) for p in self.skeleton]} \
            if self.keypoints else {}
        return {"ids": list(self.ids), "names": list(self.names), **keypoints}
