"""A dataset that wraps another: the same length, and the wrapped one's attributes (``class_names``,
``categories``, ``coco``, ``aspect_ratio``, ...) readable through it."""
from typing import Any

from torch.utils.data import Dataset


class WrappedDataset(Dataset):
    """Base of datasets that change the items of ``dataset`` and nothing else."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (unpickling): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.dataset, name)
