"""Video files in and out, through OpenCV (anything its VideoCapture reads; written as MP4 with the ``mp4v`` codec).

Frames are ``H x W x 3`` uint8 RGB, like the images everywhere else here; OpenCV's BGR stays inside this file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from .errors import DatasetError

#: Files that predict.py treats as videos (by extension; OpenCV decides whether it can read them).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")

#: Some containers report no rate; frames are then timed at this one.
FALLBACK_FPS = 25.0


def is_video_path(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int  # as the container states it; 0 when unknown


class VideoReader:
    """The frames of a video file, in order; :class:`DatasetError` naming the file if OpenCV cannot read it."""

    def __init__(self, path: str):
        self.path = path
        if not os.path.isfile(path):
            raise DatasetError(f"{path}: video file not found")
        self._capture = cv2.VideoCapture(path)
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok:
            self._capture.release()
            raise DatasetError(f"{path}: OpenCV cannot read it as a video (not a video, or a codec it lacks)")
        self._first = first
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(first.shape[1], first.shape[0], fps if fps and fps > 0 else FALLBACK_FPS,
                              max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0))

    def __iter__(self) -> Iterator[np.ndarray]:
        frame = self._first
        while frame is not None:
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            ok, frame = self._capture.read()
            frame = frame if ok else None
        self._capture.release()

    def close(self) -> None:
        self._capture.release()


class VideoWriter:
    """An MP4 file of ``width x height`` frames at ``fps``; :class:`DatasetError` naming it if OpenCV cannot write
    it (no encoder for the codec, a folder that cannot be written)."""

    def __init__(self, path: str, width: int, height: int, fps: float, codec: str = "mp4v"):
        self.path = path
        self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps, (width, height))
        if not self._writer.isOpened():
            raise DatasetError(f"{path}: OpenCV cannot write a {codec!r} video there (no encoder for the codec, or "
                               f"the folder is not writable)")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        self._writer.release()
