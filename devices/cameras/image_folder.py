"""Frames from a folder of images, in name order: a camera that uploads stills, or a test rig."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from devices.camera import BadFrameError, Frame, StreamEnded
from devices.errors import DeviceUnreachable
from devices.face.images import IMAGE_SUFFIXES, BadImageError, load_photo


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ImageFolderSource:
    """Each image file of a folder is one frame; a bad file is a :class:`BadFrameError` and the next follows."""

    def __init__(
        self, name: str, folder: Path, *, max_side: int = 1280, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._name = name
        self._folder = folder
        self._max_side = max_side
        self._clock = clock
        self._files: list[Path] = []
        self._index = 0

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        if not self._folder.is_dir():
            raise DeviceUnreachable(
                f"camera {self._name} ({self._folder})", "the image folder does not exist"
            )
        self._files = sorted(p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self._index = 0

    def read(self) -> Frame:
        if self._index >= len(self._files):
            raise StreamEnded(f"camera {self._name} ({self._folder})", "no more images in the folder")
        path = self._files[self._index]
        self._index += 1
        try:
            image = load_photo(path, max_side=self._max_side)
        except BadImageError as exc:
            raise BadFrameError(f"camera {self._name}", str(exc)) from exc
        return Frame(image, self._index, self._clock())

    def close(self) -> None:
        self._files = []
