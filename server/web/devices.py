"""The devices page: terminals, cameras and edges with their status, and the admin's forms to
register a terminal (its model chosen from the firmware configs) or change its registration, a
camera, or an edge (its MQTT password shown once, on the answer to the form, and never again).
``/devices/status`` is the page's status part alone, fetched again every 10 s by its script.

Registration goes through the same service as the API (server/services/device_registry.py), so a
refused registration is refused for the same reasons; each refused field's message is shown next
to it in the page's language and nothing is saved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.adapters.edge_credential_store import SqlCredentialStore
from server.api.registry_routes import RegistryServices
from server.services.device_registry import (
    SERIAL_RULE,
    CameraEntry,
    RegisteredTerminal,
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
EDITABLE_TERMINAL_FIELDS = ("model", "site_id", "host", "port", "transport", "timezone")
CAMERA_FIELDS = ("camera_id", "source", "linked_terminal", "edge_id")


def _registry(request: Request) -> RegistryServices:
    services: RegistryServices = request.app.state.registry
    return services


async def _status_context(request: Request) -> dict[str, Any]:
    registry = _registry(request)
    engine = request.app.state.kaoqin.engine
    now = datetime.now(UTC)
    overview = await run_in_threadpool(device_overview, engine, registry.store, now)
    return {"overview": overview, "checked_at": now}


@devices_router.get("/devices")
async def devices_page(request: Request) -> Response:
    return render(request, "devices.html", await _status_context(request))


@devices_router.get("/devices/status")
async def devices_status(request: Request) -> Response:
    """The status sections alone (no layout), for the page's refresh script."""
    response = render(request, "devices_status.html", await _status_context(request))
    response.headers["Cache-Control"] = "no-store"
    return response


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
        "editing": None,  # the serial whose registration the terminal form changes
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


def _form_of(terminal: RegisteredTerminal) -> dict[str, str]:
    return {
        "model": terminal.model,
        "site_id": terminal.site_id,
        "edge_id": terminal.edge_id,
        "host": terminal.host or "",
        "port": str(terminal.port),
        "transport": terminal.transport,
        "timezone": terminal.timezone,
    }


async def _registered_terminal(request: Request, serial: str) -> RegisteredTerminal:
    terminal = await run_in_threadpool(_registry(request).store.terminal, serial)
    if terminal is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"serial: no terminal {serial!r} is registered")
    return terminal


@devices_router.get("/devices/terminals/{serial}/edit")
async def edit_terminal_form(request: Request, serial: str) -> Response:
    terminal = await _registered_terminal(request, serial)
    context = {**await _choices(request), "form": _form_of(terminal), "editing": serial}
    return render(request, "devices_terminal_form.html", context)


@devices_router.post("/devices/terminals/{serial}")
async def update_terminal(request: Request, serial: str) -> Response:
    """Change a registration's address, transport, zone, model or site (its edge and comm key stay);
    the edge restarts the terminal's poller at the new address."""
    current = await _registered_terminal(request, serial)
    typed = await read_form(request)
    form = {name: typed.get(name, "").strip() for name in EDITABLE_TERMINAL_FIELDS}
    form["edge_id"] = current.edge_id
    errors = FormErrors()
    errors.required(form, "model", "site_id", "timezone")
    for name in EDITABLE_TERMINAL_FIELDS:
        errors.max_length(form, name, 64 if name != "host" else 255)
    port = _number(form, "port", 4370, errors)
    if not errors:
        entry = TerminalEntry(
            serial=serial,
            model=form["model"],
            site_id=form["site_id"],
            edge_id=current.edge_id,
            host=form["host"] or None,
            port=port,
            transport=form["transport"] or "tcp",
            timezone=form["timezone"],
            comm_key=current.comm_key,
        )
        registry = _registry(request)
        try:
            await run_in_threadpool(registry.registry.update_terminal, entry, datetime.now(UTC))
        except RegistryError as exc:
            _add_refusal(errors, exc)
        else:
            session.flash(request, "devices.terminal_updated", "success", serial=serial)
            return session.redirect(request, "/devices")
    context = {**await _choices(request), "form": form, "errors": errors.as_context(), "editing": serial}
    return render(
        request, "devices_terminal_form.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


@devices_router.post("/devices/terminals/{serial}/delete")
async def delete_terminal(request: Request, serial: str) -> Response:
    registry = _registry(request)
    try:
        await run_in_threadpool(registry.registry.delete_terminal, serial)
    except RegistryError as exc:
        code = next(iter(exc.codes.values()))
        session.flash(request, f"devices.error.{code}", "error", detail=str(exc))
    else:
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
