"""API sign-in: argon2 password hashes, short-lived HS256 tokens, and failed-login rate limits.

Tokens carry only the username and their expiry; the user's role and staff id are read from the
database on every request, so disabling a user or changing a role applies at once.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.services.auth_settings import AuthSettings

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
_MAX_TRACKED = 100_000  # usernames and addresses with recent failures before expired ones are dropped
_ISSUER = "kaoqin"


class Role(StrEnum):
    ADMIN = "admin"
    HR = "hr"
    INSPECTOR = "inspector"
    STAFF = "staff"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user with their role (and, for staff, whose records are theirs)."""

    username: str
    role: Role
    staff_id: str | None


class StoredUserView(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def password_hash(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def staff_id(self) -> str | None: ...
    @property
    def active(self) -> bool: ...


class UserLookup(Protocol):
    def get(self, username: str) -> StoredUserView | None: ...


class LoginRefused(Exception):
    """Wrong username or password (the message never says which)."""


class LoginThrottled(Exception):
    def __init__(self, retry_after_seconds: int, who: str) -> None:
        super().__init__(f"too many failed logins for {who}; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class TokenRejected(Exception):
    """The bearer token is missing, malformed, expired, or names a user who may not sign in."""


def check_new_user(username: str, role: str, staff_id: str | None, password: str) -> Role:
    """Refuse a user that could not work, naming what to fix; returns the parsed role."""
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise ValueError("username: 1-64 letters, digits, '-', '_' or '.'")
    try:
        parsed = Role(role)
    except ValueError:
        raise ValueError(f"role: {role!r} is not one of {', '.join(r.value for r in Role)}") from None
    if parsed is Role.STAFF and not staff_id:
        raise ValueError("staff_id: a staff user needs --staff-id (whose records they may see)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    return parsed


class PasswordHashing:
    """argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # Verified against when the username is unknown, so that case takes as long as a wrong password.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False


class LoginLimiter:
    """Counts failed logins per username and per client address over a sliding window.

    Per process and in memory: with several server processes an attacker gets the limit once per
    process, which still bounds guessing to a handful of tries per window.
    """

    def __init__(
        self,
        settings: AuthSettings,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = _MAX_TRACKED,
    ) -> None:
        self._max_tracked = self._prune_at = max_tracked
        self._window = settings.login_window_seconds
        self._limits = {
            "username": settings.login_failures_per_username,
            "address": settings.login_failures_per_address,
        }
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, username: str, address: str) -> None:
        """Raise :class:`LoginThrottled` when either counter is at its limit."""
        now = self._clock()
        with self._lock:
            for kind, value in (("username", username), ("address", address)):
                times = self._recent((kind, value), now)
                if len(times) >= self._limits[kind]:
                    wait = max(1, math.ceil(times[0] + self._window - now))
                    raise LoginThrottled(wait, f"this {kind}")

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (("username", username), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > self._prune_at:  # guesses at many names: forget what has expired
                for key in list(self._failures):
                    self._recent(key, now)
                # Scan again only once the table has doubled, so a flood costs O(1) per failure.
                self._prune_at = max(self._max_tracked, 2 * len(self._failures))

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("username", username), None)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class Authenticator:
    """Signs users in and turns bearer tokens back into a :class:`Principal`."""

    def __init__(
        self,
        users: UserLookup,
        secret: str,
        settings: AuthSettings,
        *,
        hashing: PasswordHashing | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: LoginLimiter | None = None,
    ) -> None:
        self._users = users
        self._secret = secret
        self._lifetime = timedelta(minutes=settings.token_minutes)
        self._hashing = hashing or PasswordHashing()
        self._clock = clock
        self.limiter = limiter or LoginLimiter(settings)

    def login(self, username: str, password: str, address: str) -> IssuedToken:
        self.limiter.check(username, address)
        user = self._users.get(username)
        ok = self._hashing.verify(user.password_hash if user else None, password)
        if user is None or not ok or not user.active:
            self.limiter.failed(username, address)
            logger.warning("failed login for %r from %s", username, address)
            raise LoginRefused("wrong username or password")
        self.limiter.succeeded(username)
        return self._issue(user.username)

    def renew(self, principal: Principal) -> IssuedToken:
        """A fresh token for a principal just read from a valid token (the web session slides on,
        so a page in use does not sign its user out every ``token_minutes``)."""
        return self._issue(principal.username)

    def _issue(self, username: str) -> IssuedToken:
        now = self._clock()
        expires_at = now + self._lifetime
        claims = {"sub": username, "iat": now, "exp": expires_at, "iss": _ISSUER}
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS256"), expires_at)

    def principal(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=_ISSUER,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired; sign in again at /api/v1/auth/token") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"the token is not valid: {exc}") from None
        user = self._users.get(str(claims["sub"]))
        if user is None or not user.active:
            raise TokenRejected("the token's user no longer exists or is disabled")
        return Principal(user.username, Role(user.role), user.staff_id)


def token_secret(settings: AuthSettings) -> str:
    """The configured signing secret, or (development only: production settings refuse to load
    without one) a random secret for this process."""
    configured = settings.configured_secret()
    if configured:
        return configured
    logger.warning(
        "no auth.token_secret set: signing API tokens with a random secret made for this process;"
        " every token dies when the process stops (set auth.token_secret to keep them)"
    )
    return secrets.token_urlsafe(48)
