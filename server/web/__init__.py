"""Server-rendered web pages (docs/web.md): Jinja2 templates in Simplified Chinese or English, the
session cookie and CSRF tokens, and the dashboard's live feed. ``install_web`` mounts them on the
app; who may open which page is in server/api/access_policy.py like every other route."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment

from server.web.session import SessionKeys


@dataclass(frozen=True)
class WebContext:
    """Set on ``app.state.web``."""

    keys: SessionKeys
    templates: Environment


def install_web(app: FastAPI, signing_secret: str) -> None:
    """Mount the pages, their static files and their error pages on ``app``."""
    from server.web.attendance_pages import attendance_pages_router
    from server.web.audit_pages import audit_router
    from server.web.calendar_pages import calendar_router
    from server.web.dashboard import dashboard_router
    from server.web.devices import devices_router
    from server.web.export_pages import export_router
    from server.web.incident_pages import incident_router
    from server.web.pages import pages_router
    from server.web.rendering import STATIC, build_environment, install_error_pages
    from server.web.staff_pages import staff_router
    from server.web.warning_pages import warning_router

    app.state.web = WebContext(SessionKeys.derive(signing_secret), build_environment())
    app.include_router(pages_router)
    app.include_router(dashboard_router)
    app.include_router(attendance_pages_router)
    app.include_router(export_router)
    app.include_router(incident_router)
    app.include_router(warning_router)
    app.include_router(staff_router)
    app.include_router(calendar_router)
    app.include_router(audit_router)
    app.include_router(devices_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_pages(app)
