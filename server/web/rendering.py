"""Rendering a page: the Jinja2 environment, the layout's context (language, nav, CSRF token,
flash messages, the office's zone) and the HTML answer to a refusal or error on a page route."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.api.access_policy import SESSION_COOKIE, Rule
from server.services.auth import Principal, Role
from server.web import session
from server.web.forms import CSRF_REFUSED, check_csrf
from server.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, choose_language

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class NavEntry:
    path: str  # a GET page route; shown to the roles its POLICY entry allows
    key: str  # message key of its label
    # narrows who sees it, for a page the other roles already reach through a section of their own
    only: frozenset[Role] | None = None


# The nav, in order. An entry appears once its page has a POLICY entry (and so a route: the
# foundation test checks every policy'd nav path is served), and only to the roles allowed there.
NAV: tuple[NavEntry, ...] = (
    NavEntry("/dashboard", "nav.dashboard"),
    NavEntry("/me", "nav.me"),
    NavEntry("/attendance", "nav.attendance"),
    NavEntry("/incidents", "nav.incidents"),
    NavEntry("/warnings", "nav.warnings"),
    NavEntry("/calendar/leave", "nav.my_leave", only=frozenset({Role.STAFF})),  # others: under /calendar
    NavEntry("/staff", "nav.staff"),
    NavEntry("/devices", "nav.devices"),
    NavEntry("/calendar", "nav.calendar"),
    NavEntry("/audit", "nav.audit"),
)


def build_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt variable fails the page's test, not silently blank
        trim_blocks=True,
        lstrip_blocks=True,
    )


def office_zone(request: Request) -> ZoneInfo:
    zone: ZoneInfo = request.app.state.attendance.settings.zone
    return zone


def local_time(value: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An aware datetime as the office's wall clock ('' for None)."""
    if value is None:
        return ""
    return value.astimezone(zone).strftime(fmt)


def language(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))


def translator(request: Request) -> Translator:
    return Translator(language(request))


def url_with(request: Request, **changes: str) -> str:
    """This page's URL with some query parameters changed (e.g. the language switch)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    items += list(changes.items())
    return f"{request.url.path}?{urlencode(items)}" if items else request.url.path


def nav_for(request: Request, principal: Principal | None) -> list[dict[str, Any]]:
    if principal is None:
        return []
    policy: dict[tuple[str, str], Rule] = request.app.state.access.policy
    entries = []
    for entry in NAV:
        rule = policy.get(("GET", entry.path))
        allowed = rule is not None and principal.role in rule.roles
        if allowed and (entry.only is None or principal.role in entry.only):
            current = request.url.path == entry.path or request.url.path.startswith(entry.path + "/")
            entries.append({"path": entry.path, "key": entry.key, "current": current})
    return entries


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render ``template`` inside the layout; every page handler answers through this."""
    lang = language(request)
    if request.query_params.get("lang") in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != lang:
        session._queue_cookie(request, LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600)
    zone = office_zone(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        session.renew_if_old(request)
    t = Translator(lang)
    values = {
        "request": request,
        "t": t,
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "url_with": lambda **changes: url_with(request, **changes),
        "principal": principal,
        "nav": nav_for(request, principal),
        "csrf_field": session.CSRF_FIELD,
        "csrf_token": session.csrf_token(request),
        "flashes": session.take_flashes(request),
        "zone": zone.key,
        "local": lambda value, fmt="%Y-%m-%d %H:%M:%S": local_time(value, zone, fmt),
        "errors": {},
        "form": {},
        **(context or {}),
    }
    environment: Environment = request.app.state.web.templates
    html = environment.get_template(template).render(values)
    return session.apply_cookies(request, HTMLResponse(html, status_code=status_code))


def today_in_office(request: Request, now: datetime) -> date:
    return now.astimezone(office_zone(request)).date()


_ERROR_KEYS = {401: "error.401", 403: "error.403", 404: "error.404"}


async def page_http_error(request: Request, exc: Exception) -> Response:
    """Refusals and errors of page routes as pages (401 sends a browser to sign in); other routes
    keep FastAPI's JSON answer."""
    assert isinstance(exc, StarletteHTTPException)
    if not getattr(request.state, "page", False):
        return await http_exception_handler(request, exc)
    headers = dict(exc.headers or {})
    headers.pop("WWW-Authenticate", None)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        had_session = bool(request.cookies.get(SESSION_COOKIE))
        if had_session:
            session.end_session(request)
        if "text/html" in request.headers.get("accept", ""):
            if had_session:
                session.flash(request, "signin.expired", "error")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = session.redirect(request, "/signin?" + urlencode({"next": target}))
            response.headers.update(headers)
            return response
    request.state.principal = None  # a refused page shows no nav
    key = "error.csrf" if exc.detail == CSRF_REFUSED else _ERROR_KEYS.get(exc.status_code, "error.other")
    response = render(
        request,
        "error.html",
        {"message_key": key, "status": exc.status_code, "detail": str(exc.detail)},
        status_code=exc.status_code,
    )
    response.headers.update(headers)
    return response


def page_router() -> APIRouter:
    """A router for pages: HTML answers, left out of the OpenAPI document, CSRF checked on POST.
    Every route on it still needs its POLICY entry (server/api/access_policy.py)."""
    return APIRouter(
        include_in_schema=False, default_response_class=HTMLResponse, dependencies=[Depends(check_csrf)]
    )


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, page_http_error)
