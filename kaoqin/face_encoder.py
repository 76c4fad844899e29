"""The server's photo encoder: the cameras' face engine, for enrolment photos (composition root glue,
since the server package may not import the device library)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from devices.face.engine import FaceEngine, FaceEngineConfig
from devices.face.images import BadImageError, decode_photo


class DevicesPhotoEncoder:
    """Implements ``server.services.face_enrolment.PhotoEncoder``; the engine loads on first use."""

    def __init__(self, config: FaceEngineConfig | None = None) -> None:
        self._config = config or FaceEngineConfig()

    @cached_property
    def _engine(self) -> FaceEngine:
        return FaceEngine(self._config)

    def faces_in_photo(self, data: bytes, name: str) -> list[Sequence[float]]:
        try:
            image = decode_photo(data, name)
        except BadImageError as exc:
            raise ValueError(str(exc)) from exc
        return [face.encoding.tolist() for face in self._engine.analyse_photo(image)]
