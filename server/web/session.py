"""The pages' browser session: the token cookie, the CSRF token of every form, and flash messages.

* The session cookie (``SESSION_COOKIE``, HttpOnly, SameSite=Lax) holds the same short-lived token
  the API hands out; the access policy reads it for page routes. Past half its life it is renewed
  on the next page, so a page in use stays signed in and an idle one expires.
* CSRF: a random per-browser nonce in its own HttpOnly cookie, rotated at sign-in and sign-out;
  every form carries ``HMAC(key, nonce)`` in its ``csrf_token`` field and every page POST signed in
  by the cookie (and the sign-in form itself) is refused unless it matches.
* Flash messages are message keys (translated when shown) in a signed cookie, read once.

Cookies to set are queued on ``request.state`` and applied by :func:`server.web.rendering.render`
and :func:`redirect`, so a page handler never touches them directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from server.api.access_policy import SESSION_COOKIE
from server.services.auth import IssuedToken

CSRF_COOKIE = "kaoqin_csrf"
FLASH_COOKIE = "kaoqin_flash"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class SessionKeys:
    """Keys derived from the token signing secret (so every server process agrees on them)."""

    csrf: bytes
    flash: bytes

    @classmethod
    def derive(cls, signing_secret: str) -> SessionKeys:
        secret = signing_secret.encode()
        return cls(
            csrf=hmac.new(secret, b"kaoqin web csrf", hashlib.sha256).digest(),
            flash=hmac.new(secret, b"kaoqin web flash", hashlib.sha256).digest(),
        )


@dataclass(frozen=True)
class Flash:
    level: str  # info / success / error
    key: str
    values: dict[str, Any]


def _keys(request: Request) -> SessionKeys:
    keys: SessionKeys = request.app.state.web.keys
    return keys


def _queue_cookie(request: Request, name: str, value: str | None, max_age: int | None = None) -> None:
    """Queue a cookie (``None`` deletes it); applied to the response by :func:`apply_cookies`."""
    pending: dict[str, tuple[str | None, int | None]] = getattr(request.state, "cookies_to_set", {})
    pending[name] = (value, max_age)
    request.state.cookies_to_set = pending


def apply_cookies(request: Request, response: Response) -> Response:
    secure = request.url.scheme == "https"
    pending: dict[str, tuple[str | None, int | None]] = getattr(request.state, "cookies_to_set", {})
    for name, (value, max_age) in pending.items():
        if value is None:
            response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
        else:
            response.set_cookie(
                name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
            )
    return response


def redirect(request: Request, to: str) -> Response:
    """303 See Other (a POST's answer becomes a GET), with the queued cookies."""
    return apply_cookies(request, RedirectResponse(to, status_code=303))


def safe_next(value: object) -> str:
    """Where to go after signing in: only a path on this site (never ``//host`` or a URL)."""
    text = str(value or "")
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "/"


# --- session token ---------------------------------------------------------------------------


def _set_session_cookie(request: Request, issued: IssuedToken) -> None:
    lifetime = max(1, int((issued.expires_at - datetime.now(UTC)).total_seconds()))
    _queue_cookie(request, SESSION_COOKIE, issued.token, max_age=lifetime)


def start_session(request: Request, issued: IssuedToken) -> None:
    _set_session_cookie(request, issued)
    _queue_cookie(request, CSRF_COOKIE, secrets.token_urlsafe(24))  # a new session, a new CSRF nonce


def end_session(request: Request) -> None:
    _queue_cookie(request, SESSION_COOKIE, None)
    _queue_cookie(request, CSRF_COOKIE, secrets.token_urlsafe(24))


def renew_if_old(request: Request) -> None:
    """Slide a cookie session on once past half its life (the token was verified by the policy)."""
    if not getattr(request.state, "session_cookie", False):
        return
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        issued_at, expires_at = float(claims["iat"]), float(claims["exp"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return
    if datetime.now(UTC).timestamp() < issued_at + (expires_at - issued_at) / 2:
        return
    # The CSRF nonce stays, so forms open in other tabs remain valid.
    _set_session_cookie(request, request.app.state.access.authenticator.renew(request.state.principal))


# --- CSRF ------------------------------------------------------------------------------------


def _nonce(request: Request) -> str:
    """This browser's CSRF nonce (made and queued when it has none yet)."""
    nonce = getattr(request.state, "csrf_nonce", None) or request.cookies.get(CSRF_COOKIE)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        _queue_cookie(request, CSRF_COOKIE, nonce)
    request.state.csrf_nonce = nonce
    return str(nonce)


def csrf_token(request: Request) -> str:
    pending = getattr(request.state, "cookies_to_set", {}).get(CSRF_COOKIE)
    nonce = pending[0] if pending and pending[0] else _nonce(request)
    return hmac.new(_keys(request).csrf, nonce.encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: Request, submitted: object) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not isinstance(submitted, str):
        return False
    expected = hmac.new(_keys(request).csrf, nonce.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, submitted)


# --- flash messages --------------------------------------------------------------------------


def flash(request: Request, key: str, level: str = "info", **values: Any) -> None:
    """Show a message on the next page rendered (after a redirect, typically)."""
    queued: list[dict[str, Any]] = getattr(request.state, "flashes_out", [])
    queued.append({"level": level, "key": key, "values": values})
    request.state.flashes_out = queued
    body = base64.urlsafe_b64encode(json.dumps(queued).encode()).decode()
    signature = hmac.new(_keys(request).flash, body.encode(), hashlib.sha256).hexdigest()
    _queue_cookie(request, FLASH_COOKIE, f"{body}.{signature}")


def take_flashes(request: Request) -> list[Flash]:
    """The messages flashed for this page (once: the cookie is deleted), plus any queued now."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    found: list[dict[str, Any]] = []
    if raw:
        body, _, signature = raw.rpartition(".")
        expected = hmac.new(_keys(request).flash, body.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            try:
                found = list(json.loads(base64.urlsafe_b64decode(body)))
            except ValueError:
                found = []
        _queue_cookie(request, FLASH_COOKIE, None)
    found += getattr(request.state, "flashes_out", [])
    request.state.flashes_out = []
    return [Flash(str(f["level"]), str(f["key"]), dict(f.get("values", {}))) for f in found]
