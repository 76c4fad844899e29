"""The server's photo encoder: the cameras' face engine, for enrolment photos (composition root glue,
since the server package may not import the device library)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from devices.face.engine import FaceEngine, FaceEngineConfig
from devices.face.images import BadImageError, decode_photo


class DevicesPhotoEncoder:
    """Implements ``server.services.face_enrolment.PhotoEncoder``. The engine loads on first use, or
    at start-up with :meth:`load` (``kaoqin server`` does, so that missing models stop it there)."""

    def __init__(self, config: FaceEngineConfig | None = None) -> None:
        self._config = config or FaceEngineConfig()

    @cached_property
    def _engine(self) -> FaceEngine:
        return FaceEngine(self._config)

    def load(self) -> None:
        """Load the face backend now; raises ``FaceBackendUnavailable`` saying what to install."""
        _ = self._engine

    def faces_in_photo(self, data: bytes, name: str) -> list[Sequence[float]]:
        try:
            image = decode_photo(data, name)
        except BadImageError as exc:
            raise ValueError(str(exc)) from exc
        try:
            faces = self._engine.analyse_photo(image)
        except ValueError as exc:  # e.g. a 4x4 thumbnail: the engine says what, we say which photo
            raise ValueError(f"{name}: {exc}") from exc
        return [face.encoding.tolist() for face in faces]
