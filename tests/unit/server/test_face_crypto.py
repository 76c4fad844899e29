"""Encryption of face encodings at rest: round trip, wrong key, and a key file made only when needed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.adapters.face_crypto import EncodingCipher, EncodingCipherError, load_secret


def test_round_trip_and_a_wrong_key() -> None:
    values = [i / 200 for i in range(128)]
    token = EncodingCipher("a-secret-of-enough-length").encrypt(values)
    assert EncodingCipher("a-secret-of-enough-length").decrypt(token) == pytest.approx(values, abs=1e-6)
    with pytest.raises(EncodingCipherError, match="key"):
        EncodingCipher("another-secret-of-length").decrypt(token)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        EncodingCipher("short").encrypt([0.0] * 128)


def test_the_key_file_is_created_on_first_use_readable_only_by_its_owner(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "face.key"
    cipher = EncodingCipher(lambda: load_secret(None, key_file))
    assert not key_file.exists()
    token = cipher.encrypt([0.5] * 128)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert EncodingCipher(lambda: load_secret(None, key_file)).decrypt(token)[0] == 0.5
    assert load_secret("configured-secret-wins", key_file) == "configured-secret-wins"
