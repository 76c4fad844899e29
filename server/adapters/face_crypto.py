"""Encryption at rest of face encodings: Fernet (AES-128-CBC + HMAC-SHA256) keyed from a setting."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

logger = logging.getLogger(__name__)

_PACK = struct.Struct("<128f")


class EncodingCipherError(ValueError):
    """A stored encoding cannot be decrypted: the key changed, or the row is corrupt."""


def load_secret(secret: str | None, key_file: Path) -> str:
    """The configured secret, or the one in ``key_file`` (created with a random secret if missing)."""
    if secret:
        return secret
    if key_file.is_file():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    logger.warning("created the face encryption key file %s: back it up, or enrolments are lost", key_file)
    return key_file.read_text().strip()


class EncodingCipher:
    """Encrypts and decrypts one encoding (128 float32) at a time. ``secret`` may be a callable: the key
    is then read (or its file created) on first use, not when the server starts."""

    def __init__(self, secret: str | Callable[[], str]) -> None:
        self._secret = secret
        self._cached: Fernet | None = None

    @property
    def _fernet(self) -> Fernet:
        if self._cached is None:
            secret = self._secret() if callable(self._secret) else self._secret
            if len(secret) < 16:
                raise ValueError("the face encryption key must be at least 16 characters")
            # Fernet wants 32 random bytes; derive them from the configured secret.
            digest = hashlib.sha256(b"kaoqin face encodings v1|" + secret.encode()).digest()
            self._cached = Fernet(base64.urlsafe_b64encode(digest))
        return self._cached

    def encrypt(self, encoding: Sequence[float]) -> bytes:
        return self._fernet.encrypt(_PACK.pack(*encoding))

    def decrypt(self, token: bytes) -> tuple[float, ...]:
        try:
            return _PACK.unpack(self._fernet.decrypt(token))
        except (InvalidToken, struct.error) as exc:
            raise EncodingCipherError(
                "a stored face encoding cannot be decrypted (was the key changed?)"
            ) from exc
