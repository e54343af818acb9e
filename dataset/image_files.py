"""Images to predict on, decoded in DataLoader workers while the model runs.

An unreadable file does not stop the loader: its item carries the error line instead of the image, and the caller
reports it and goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from torch.utils.data import DataLoader, Dataset

from .errors import DatasetError
from .image_io import read_rgb


@dataclass
class LoadedImage:
    index: int
    path: str
    image: Optional[np.ndarray]  # H x W x 3 uint8 RGB; None when it could not be read
    error: Optional[str] = None


class ImageFiles(Dataset):
    """``paths[i]`` decoded as a :class:`LoadedImage`."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> LoadedImage:
        path = self.paths[index]
        try:
            return LoadedImage(index, path, read_rgb(path))
        except DatasetError as error:
            return LoadedImage(index, path, None, str(error))


def _as_list(items: list[LoadedImage]) -> list[LoadedImage]:
    return items


def image_file_loader(paths: Sequence[str], batch_size: int = 1, workers: int = 1) -> DataLoader:
    """Batches (lists) of :class:`LoadedImage` in the order of ``paths``; ``workers`` processes decode ahead of the
    model (0: in the calling process)."""
    return DataLoader(ImageFiles(paths), batch_size=batch_size, shuffle=False, num_workers=workers,
                      collate_fn=_as_list, prefetch_factor=4 if workers else None)
