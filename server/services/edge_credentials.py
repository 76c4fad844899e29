"""MQTT credentials of edges: issued once at registration, rotated, revoked, and turned into the
broker's password file.

A password is 32 random bytes (URL-safe text) shown only in the response that issues it; the store
keeps it hashed in the format ``mosquitto_passwd`` writes (``$7$`` = PBKDF2-HMAC-SHA512), so the
password file Mosquitto reads is generated from the table (``kaoqin broker password-file``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.topics import TopicError, check_id

# mosquitto_passwd 2.0's defaults: 12 bytes of salt and 101 iterations. More iterations would not
# make a 256-bit random password harder to guess, and the broker checks the hash on its single
# thread at every connect, so a reconnect storm of a whole city's edges must stay cheap.
_SALT_BYTES = 12
PBKDF2_ITERATIONS = 101
_PASSWORD_BYTES = 32
# A password the operator chose for the server itself is stretched only 101 times as well: insist on
# enough length that guessing it is out of reach anyway.
MIN_SERVER_PASSWORD_LENGTH = 24
# The server's MQTT username in deploy/mosquitto/kaoqin.acl: no edge may be registered under it.
DEFAULT_SERVER_USERNAME = "kaoqin-server"


class CredentialError(ValueError):
    """A registration, rotation or revocation that cannot be done; the message says why."""


class EdgeAlreadyRegistered(CredentialError):
    pass


class EdgeNotRegistered(CredentialError):
    pass


class EdgeRevoked(CredentialError):
    pass


class RotatedConcurrently(CredentialError):
    pass


@dataclass(frozen=True)
class EdgeCredential:
    """What is known about an edge's credentials (never the password)."""

    edge_id: str
    username: str
    password_hash: str
    generation: int
    issued_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedCredential:
    """Credentials just issued: the only moment the password exists outside the edge."""

    credential: EdgeCredential
    password: str


class CredentialStore(Protocol):
    def add(self, credential: EdgeCredential) -> None:
        """Insert; raise :class:`EdgeAlreadyRegistered` if the edge id or username exists."""

    def get(self, edge_id: str) -> EdgeCredential | None: ...

    def list_all(self) -> list[EdgeCredential]: ...

    def replace_hash(
        self, edge_id: str, *, expected_generation: int, password_hash: str, rotated_at: datetime
    ) -> bool:
        """Set a new hash and generation+1 if the row is still at ``expected_generation`` and not
        revoked; False otherwise."""

    def mark_revoked(self, edge_id: str, revoked_at: datetime) -> bool:
        """Set ``revoked_at`` if not yet set; False if it was."""


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``$7$<iterations>$<salt>$<hash>`` exactly as ``mosquitto_passwd`` writes it (base64 parts)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (what Mosquitto does at connect)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        raise ValueError("not a mosquitto $7$ (PBKDF2-SHA512) password hash")
    iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def new_password() -> str:
    return secrets.token_urlsafe(_PASSWORD_BYTES)


def render_password_file(entries: Iterable[tuple[str, str]]) -> str:
    """Mosquitto password file text: one ``username:hash`` line each, in the order given."""
    lines = []
    for username, password_hash in entries:
        if ":" in username or "\n" in username or "\n" in password_hash:
            raise CredentialError(f"username {username!r} cannot be written to a password file")
        lines.append(f"{username}:{password_hash}\n")
    return "".join(lines)


def check_server_password(password: str) -> str:
    """The server's own broker password, refused if too short to resist guessing."""
    if len(password) < MIN_SERVER_PASSWORD_LENGTH:
        raise CredentialError(
            f"the server's MQTT password has {len(password)} characters; use at least "
            f"{MIN_SERVER_PASSWORD_LENGTH} random ones (e.g. `openssl rand -base64 32`)"
        )
    return password


class EdgeCredentials:
    """Registration, rotation and revocation of edges' MQTT credentials."""

    def __init__(
        self, store: CredentialStore, *, reserved_usernames: Sequence[str] = (DEFAULT_SERVER_USERNAME,)
    ) -> None:
        """``reserved_usernames``: names no edge may take (the server's own MQTT user)."""
        self._store = store
        self._reserved = frozenset(reserved_usernames)

    def register(self, edge_id: str, now: datetime) -> IssuedCredential:
        """Issue credentials to a new edge; the username is its edge id (what the ACL confines)."""
        try:
            check_id(edge_id, "edge id")
        except TopicError as exc:
            raise CredentialError(str(exc)) from None
        if edge_id in self._reserved:
            raise CredentialError(f"edge id {edge_id!r} is the server's own MQTT user; choose another")
        if ":" in edge_id:
            # The username is the edge id, and Mosquitto's password file is "username:hash".
            raise CredentialError(
                f"edge id {edge_id!r} contains ':', which an MQTT username in Mosquitto's password "
                "file cannot hold; register the edge under an id without it"
            )
        password = new_password()
        credential = EdgeCredential(
            edge_id=edge_id,
            username=edge_id,
            password_hash=hash_password(password),
            generation=1,
            issued_at=now,
        )
        self._store.add(credential)
        return IssuedCredential(credential, password)

    def get(self, edge_id: str) -> EdgeCredential:
        credential = self._store.get(edge_id)
        if credential is None:
            raise EdgeNotRegistered(f"edge {edge_id!r} is not registered (POST /api/v1/edges first)")
        return credential

    def list_all(self) -> list[EdgeCredential]:
        return self._store.list_all()

    def rotate(self, edge_id: str, now: datetime) -> IssuedCredential:
        """A new password (generation+1); the old one stops working once the password file is
        regenerated and the broker reloaded."""
        current = self.get(edge_id)
        if current.revoked_at is not None:
            raise EdgeRevoked(
                f"edge {edge_id!r} was revoked at {current.revoked_at.isoformat()}; "
                "a revoked edge stays revoked: register the replacement under a new edge id"
            )
        password = new_password()
        password_hash = hash_password(password)
        if not self._store.replace_hash(
            edge_id, expected_generation=current.generation, password_hash=password_hash, rotated_at=now
        ):
            raise RotatedConcurrently(
                f"edge {edge_id!r} was rotated or revoked by another request meanwhile; look it up and retry"
            )
        return IssuedCredential(self.get(edge_id), password)

    def revoke(self, edge_id: str, now: datetime) -> EdgeCredential:
        """Keep the row, set ``revoked_at``; revoking again changes nothing and returns the row."""
        self.get(edge_id)
        self._store.mark_revoked(edge_id, now)
        return self.get(edge_id)

    def password_file_entries(self, server_username: str, server_password: str) -> list[tuple[str, str]]:
        """The server's user first, then every edge not revoked, for :func:`render_password_file`."""
        entries = [(server_username, hash_password(check_server_password(server_password)))]
        for credential in self._store.list_all():
            if not credential.active:
                continue
            if credential.username == server_username:
                # It would share the server's ACL (read every edge's events): never write it.
                raise CredentialError(
                    f"edge {credential.edge_id!r} has the server's MQTT username {server_username!r}; "
                    f"revoke it (POST /api/v1/edges/{credential.edge_id}/credentials/revoke) and "
                    "register that edge under another id"
                )
            entries.append((credential.username, credential.password_hash))
        return entries
