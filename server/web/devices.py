"""The devices page: terminals, cameras and edges with their status, and the admin's forms to
register a terminal (its model chosen from the firmware configs), a camera, or an edge (its MQTT
password shown once, on the answer to the form, and never again).

Registration goes through the same service as the API (server/services/device_registry.py), so a
refused registration is refused for the same reasons; each refused field's message is shown next
to it in the page's language and nothing is saved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.adapters.edge_credential_store import SqlCredentialStore
from server.api.registry_routes import RegistryServices
from server.services.device_registry import (
    SERIAL_RULE,
    CameraEntry,
    RegistryError,
    TerminalEntry,
)
from server.services.edge_credentials import CredentialError, EdgeAlreadyRegistered, EdgeCredentials
from server.web import session
from server.web.device_overview import device_overview
from server.web.forms import FormErrors, read_form
from server.web.rendering import office_zone, page_router, render

devices_router = page_router()

TERMINAL_FIELDS = ("serial", "model", "site_id", "edge_id", "host", "port", "transport", "timezone")
CAMERA_FIELDS = ("camera_id", "source", "linked_terminal", "edge_id")


def _registry(request: Request) -> RegistryServices:
    services: RegistryServices = request.app.state.registry
    return services


@devices_router.get("/devices")
async def devices_page(request: Request) -> Response:
    registry = _registry(request)
    engine = request.app.state.kaoqin.engine
    overview = await run_in_threadpool(device_overview, engine, registry.store, datetime.now(UTC))
    return render(request, "devices.html", {"overview": overview})


def _add_refusal(errors: FormErrors, exc: RegistryError) -> None:
    for name, code in exc.codes.items():
        errors.add(name, f"devices.error.{code}", detail=exc.problems[name])


async def _choices(request: Request) -> dict[str, Any]:
    registry = _registry(request)
    store = registry.store
    return {
        "models": list(registry.registry.models.values()),
        "sites": await run_in_threadpool(store.sites),
        "edges": await run_in_threadpool(store.active_edges),
        "terminals": [t.serial for t in await run_in_threadpool(store.terminals)],
        "serial_rule": SERIAL_RULE,
    }


# ------------------------------------------------------------ terminals


@devices_router.get("/devices/terminals/new")
async def new_terminal_form(request: Request) -> Response:
    form = {"port": "4370", "transport": "tcp", "timezone": office_zone(request).key}
    return render(request, "devices_terminal_form.html", {**await _choices(request), "form": form})


@devices_router.post("/devices/terminals")
async def register_terminal(request: Request) -> Response:
    form = await read_form(request)
    form = {name: form.get(name, "").strip() for name in TERMINAL_FIELDS}
    errors = FormErrors()
    errors.required(form, "serial", "model", "site_id", "edge_id", "timezone")
    for name in TERMINAL_FIELDS:
        errors.max_length(form, name, 64 if name != "host" else 255)
    port = _number(form, "port", 4370, errors)
    if not errors:
        entry = TerminalEntry(
            serial=form["serial"],
            model=form["model"],
            site_id=form["site_id"],
            edge_id=form["edge_id"],
            host=form["host"] or None,
            port=port,
            transport=form["transport"] or "tcp",
            timezone=form["timezone"],
        )
        registry = _registry(request)
        try:
            await run_in_threadpool(registry.registry.register_terminal, entry, datetime.now(UTC))
        except RegistryError as exc:
            _add_refusal(errors, exc)
        else:
            await run_in_threadpool(registry.publisher.changed)
            session.flash(request, "devices.terminal_registered", "success", serial=entry.serial)
            return session.redirect(request, "/devices")
    context = {**await _choices(request), "form": form, "errors": errors.as_context()}
    return render(
        request, "devices_terminal_form.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def _number(form: dict[str, str], name: str, default: int, errors: FormErrors) -> int:
    text = form.get(name, "")
    if not text:
        return default
    if not text.isdigit():
        errors.add(name, "devices.error.not_a_number")
        return default
    return int(text)


@devices_router.post("/devices/terminals/{serial}/delete")
async def delete_terminal(request: Request, serial: str) -> Response:
    registry = _registry(request)
    try:
        await run_in_threadpool(registry.registry.delete_terminal, serial)
    except RegistryError as exc:
        code = next(iter(exc.codes.values()))
        session.flash(request, f"devices.error.{code}", "error", detail=str(exc))
    else:
        await run_in_threadpool(registry.publisher.changed)
        session.flash(request, "devices.terminal_deleted", "success", serial=serial)
    return session.redirect(request, "/devices")


# ------------------------------------------------------------ cameras


@devices_router.get("/devices/cameras/new")
async def new_camera_form(request: Request) -> Response:
    return render(request, "devices_camera_form.html", await _choices(request))


@devices_router.post("/devices/cameras")
async def register_camera(request: Request) -> Response:
    form = await read_form(request)
    form = {name: form.get(name, "").strip() for name in CAMERA_FIELDS}
    errors = FormErrors()
    errors.required(form, *CAMERA_FIELDS)
    errors.max_length(form, "source", 1024)
    if not errors:
        entry = CameraEntry(**form)
        registry = _registry(request)
        try:
            await run_in_threadpool(registry.registry.register_camera, entry, datetime.now(UTC))
        except RegistryError as exc:
            _add_refusal(errors, exc)
        else:
            await run_in_threadpool(registry.publisher.changed)
            session.flash(request, "devices.camera_registered", "success", camera_id=entry.camera_id)
            return session.redirect(request, "/devices")
    context = {**await _choices(request), "form": form, "errors": errors.as_context()}
    return render(
        request, "devices_camera_form.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


@devices_router.post("/devices/cameras/{camera_id}/delete")
async def delete_camera(request: Request, camera_id: str) -> Response:
    registry = _registry(request)
    try:
        await run_in_threadpool(registry.registry.delete_camera, camera_id)
    except RegistryError as exc:
        session.flash(request, "devices.error.not_registered", "error", detail=str(exc))
    else:
        await run_in_threadpool(registry.publisher.changed)
        session.flash(request, "devices.camera_deleted", "success", camera_id=camera_id)
    return session.redirect(request, "/devices")


# ------------------------------------------------------------ edges


@devices_router.get("/devices/edges/new")
def new_edge_form(request: Request) -> Response:
    return render(request, "devices_edge_form.html")


@devices_router.post("/devices/edges")
async def register_edge(request: Request) -> Response:
    form = await read_form(request)
    form = {"edge_id": form.get("edge_id", "").strip()}
    errors = FormErrors()
    errors.required(form, "edge_id")
    errors.max_length(form, "edge_id", 64)
    if not errors:
        credentials = EdgeCredentials(SqlCredentialStore(request.app.state.kaoqin.engine))
        try:
            issued = await run_in_threadpool(credentials.register, form["edge_id"], datetime.now(UTC))
        except EdgeAlreadyRegistered as exc:
            errors.add("edge_id", "devices.error.edge_taken", detail=str(exc))
        except CredentialError as exc:
            errors.add("edge_id", "devices.error.edge_id_form", detail=str(exc))
        else:
            # The password is in this answer only (not in a redirect, a flash or a log): it is not stored.
            response = render(request, "devices_edge_issued.html", {"issued": issued})
            response.headers["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "devices_edge_form.html",
        {"form": form, "errors": errors.as_context()},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
