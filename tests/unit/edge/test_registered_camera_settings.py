"""How a registered camera's source becomes the settings of its check-in loop (pure mapping)."""

from __future__ import annotations

import pytest

from contracts import ConfiguredCamera
from edge.camera_settings import CameraSettings
from edge.registered_cameras import camera_settings


def _camera(source: str) -> ConfiguredCamera:
    return ConfiguredCamera(camera_id="cam-1", source=source, linked_terminal="AIOR192960031", site_id="hq")


@pytest.mark.parametrize(
    ("source", "kind", "location", "loops"),
    [
        ("0", "usb", "0", False),
        ("12", "usb", "12", False),
        ("rtsp://10.0.0.8/stream1", "rtsp", "rtsp://10.0.0.8/stream1", False),
        ("https://cam.example/mjpeg?x=1", "rtsp", "https://cam.example/mjpeg?x=1", False),
        ("file:///srv/demo/door.avi", "file", "/srv/demo/door.avi", True),
        ("file:///srv/demo/front%20door.avi", "file", "/srv/demo/front door.avi", True),
    ],
)
def test_each_source_form_opens_as_what_it_names(source: str, kind: str, location: str, loops: bool) -> None:
    settings = camera_settings(_camera(source))
    assert (settings.source, settings.location, settings.loop_file) == (kind, location, loops)
    assert settings.camera_id == "cam-1"
    assert settings.linked_terminal == "AIOR192960031"


def test_recognition_and_liveness_are_the_yaml_cameras_defaults() -> None:
    settings = camera_settings(_camera("0"))
    defaults = CameraSettings(camera_id="x", source="usb", location="0")
    skip = {"camera_id", "source", "location", "linked_terminal", "loop_file"}
    assert settings.model_dump(exclude=skip) == defaults.model_dump(exclude=skip)
