"""/staff: departments (with their heads) and staff (department, site, timetable, terminal user ids,
designated substitute, active), their create and edit forms validated by the API's own models and
the store's checks, and face enrolment (consent, photos, deletion) through the enrolment service."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from server.adapters.attendance_store import NotFoundError
from server.api.attendance_routes import DepartmentIn, StaffIn
from server.services.auth import Principal
from server.services.face_enrolment import ConsentMissing, EnrolmentRejected, FaceEnrolment, Photo
from server.services.working_time_models import Id
from server.web import session
from server.web.form_checks import REFUSED, add_service_refusal, add_validation_errors
from server.web.forms import FormErrors, read_form
from server.web.rendering import page_router, render

staff_router = page_router()

_ID = TypeAdapter(Id)
_STAFF_FIELDS = {
    "name",
    "department_id",
    "site_id",
    "timetable_id",
    "terminal_user_ids",
    "substitute_staff_id",
}


def _choices(request: Request) -> dict[str, Any]:
    store = request.app.state.attendance.store
    return {
        "department_options": [(d["department_id"], d["name"]) for d in store.departments()],
        "site_options": [(s["site_id"], s["name"]) for s in store.sites()],
        "timetable_options": [(t["timetable_id"], t["name"]) for t in store.timetables()],
        "staff_options": [(p["staff_id"], f"{p['name']} ({p['staff_id']})") for p in store.staff()],
    }


def _check_id(errors: FormErrors, form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        errors.add(name, "form.required")
        return value
    try:
        _ID.validate_python(value)
    except ValidationError:
        errors.add(name, "staff.bad_id")
    return value


# ---------------------------------------------------------------------------- lists
@staff_router.get("/staff")
async def staff_list(request: Request) -> Response:
    store = request.app.state.attendance.store
    department = request.query_params.get("department") or None
    people = await run_in_threadpool(store.staff, department)
    departments = await run_in_threadpool(store.departments)
    names = {p["staff_id"]: p["name"] for p in await run_in_threadpool(store.staff)}
    faces: FaceEnrolment = request.app.state.faces
    enrolled = await run_in_threadpool(faces.store.enrolled)
    return render(
        request,
        "staff.html",
        {
            "people": people,
            "departments": departments,
            "department_names": {d["department_id"]: d["name"] for d in departments},
            "names": names,
            "enrolled": enrolled,
            "form": {"department": department or ""},
        },
    )


# ---------------------------------------------------------------------------- departments
@staff_router.get("/staff/departments/new")
async def new_department(request: Request) -> Response:
    return await _department_page(request, None, {}, FormErrors())


@staff_router.get("/staff/departments/{department_id}")
async def edit_department(request: Request, department_id: str) -> Response:
    found = [
        d
        for d in await run_in_threadpool(request.app.state.attendance.store.departments)
        if d["department_id"] == department_id
    ]
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"department_id: no such department {department_id!r}")
    form = {"name": found[0]["name"], "head_staff_id": found[0]["head_staff_id"] or ""}
    return await _department_page(request, department_id, form, FormErrors())


async def _department_page(
    request: Request, department_id: str | None, form: dict[str, str], errors: FormErrors, code: int = 200
) -> Response:
    choices = await run_in_threadpool(_choices, request)
    context = {"department_id": department_id, "form": form, "errors": errors.as_context(), **choices}
    return render(request, "staff_department.html", context, status_code=code)


@staff_router.post("/staff/departments")
async def save_department(request: Request) -> Response:
    form = await read_form(request)
    editing = form.get("editing", "")
    errors = FormErrors()
    department_id = editing or _check_id(errors, form, "department_id")
    errors.required(form, "name")
    body = None
    if not errors:
        try:
            body = DepartmentIn(name=form["name"].strip(), head_staff_id=form.get("head_staff_id") or None)
        except ValidationError as exc:
            add_validation_errors(errors, exc)
    if body is not None and not errors:
        if not editing and department_id in {
            d["department_id"]
            for d in await run_in_threadpool(request.app.state.attendance.store.departments)
        }:
            errors.add("department_id", "staff.department_exists")
        else:
            try:
                await run_in_threadpool(
                    request.app.state.attendance.store.put_department,
                    department_id,
                    body.name,
                    body.head_staff_id,
                )
            except (NotFoundError, ValueError) as exc:
                add_service_refusal(errors, exc, {"name", "head_staff_id"})
    if errors:
        return await _department_page(request, editing or None, form, errors, 422)
    session.flash(request, "form.saved", "success")
    return session.redirect(request, "/staff")


# ---------------------------------------------------------------------------- staff
@staff_router.get("/staff/new")
async def new_staff(request: Request) -> Response:
    return await _staff_page(request, None, {"active": "on"}, FormErrors())


@staff_router.get("/staff/{staff_id}")
async def edit_staff(request: Request, staff_id: str) -> Response:
    person = await run_in_threadpool(_person, request, staff_id)
    return await _staff_page(request, staff_id, _staff_form(person), FormErrors())


def _staff_form(person: dict[str, Any]) -> dict[str, str]:
    return {
        "name": person["name"],
        "department_id": person["department_id"],
        "site_id": person["site_id"],
        "timetable_id": person["timetable_id"],
        "terminal_user_ids": ", ".join(person["terminal_user_ids"]),
        "substitute_staff_id": person["substitute_staff_id"] or "",
        "active": "on" if person["active"] else "",
    }


def _person(request: Request, staff_id: str) -> dict[str, Any]:
    found = request.app.state.attendance.store.staff(staff_id=staff_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"staff_id: no such staff member {staff_id!r}")
    return dict(found[0])


async def _staff_page(
    request: Request,
    staff_id: str | None,
    form: dict[str, str],
    errors: FormErrors,
    code: int = 200,
    face_errors: FormErrors | None = None,
    face_form: dict[str, str] | None = None,
) -> Response:
    choices = await run_in_threadpool(_choices, request)
    face = None
    if staff_id is not None:
        faces: FaceEnrolment = request.app.state.faces
        consent = await run_in_threadpool(faces.store.consent, staff_id)
        encodings = await run_in_threadpool(faces.store.encodings_of, staff_id)
        face = {"consent": consent, "encodings": len(encodings)}
    context = {
        "staff_id": staff_id,
        "form": form,
        "errors": errors.as_context(),
        "face": face,
        "face_errors": (face_errors or FormErrors()).as_context(),
        "face_form": face_form or {},
        **choices,
    }
    return render(request, "staff_edit.html", context, status_code=code)


@staff_router.post("/staff")
async def save_staff(request: Request) -> Response:
    form = await read_form(request)
    editing = form.get("editing", "")
    errors = FormErrors()
    staff_id = editing or _check_id(errors, form, "staff_id")
    errors.required(form, "name", "department_id", "site_id", "timetable_id")
    pins = [p.strip() for p in form.get("terminal_user_ids", "").replace("，", ",").split(",") if p.strip()]
    if len(set(pins)) != len(pins):
        errors.add("terminal_user_ids", "staff.pins_repeated")
    body = None
    if not errors:
        try:
            body = StaffIn(
                name=form["name"].strip(),
                department_id=form["department_id"],
                site_id=form["site_id"],
                timetable_id=form["timetable_id"],
                terminal_user_ids=pins,
                substitute_staff_id=form.get("substitute_staff_id") or None,
                active=form.get("active") == "on",
            )
        except ValidationError as exc:
            add_validation_errors(errors, exc)
    store = request.app.state.attendance.store
    if body is not None and not errors:
        if not editing and await run_in_threadpool(store.staff, None, staff_id):
            errors.add("staff_id", "staff.exists")
        else:
            try:
                values = body.model_dump(exclude={"terminal_user_ids"})
                await run_in_threadpool(store.put_staff, staff_id, values, body.terminal_user_ids)
            except (NotFoundError, ValueError) as exc:
                add_service_refusal(errors, exc, _STAFF_FIELDS)
    if errors:
        return await _staff_page(request, editing or None, form, errors, 422)
    session.flash(request, "form.saved", "success")
    return session.redirect(request, f"/staff/{staff_id}")


# ---------------------------------------------------------------------------- face enrolment
@staff_router.post("/staff/{staff_id}/face/consent")
async def record_consent(request: Request, staff_id: str) -> Response:
    form = await read_form(request)
    errors = FormErrors()
    errors.max_length(form, "evidence", 512)
    if form.get("confirm") != "on":
        errors.add("confirm", "staff.face.confirm_required")
    person = await run_in_threadpool(_person, request, staff_id)
    if errors:
        return await _face_again(request, person, errors, form)
    principal: Principal = request.state.principal
    faces: FaceEnrolment = request.app.state.faces
    await run_in_threadpool(faces.record_consent, staff_id, principal.username, form.get("evidence") or None)
    session.flash(request, "staff.face.consent_recorded", "success")
    return session.redirect(request, f"/staff/{staff_id}#face")


@staff_router.post("/staff/{staff_id}/face/photos")
async def upload_photos(request: Request, staff_id: str) -> Response:
    """Every photo must show exactly one face; if any is unusable nothing is stored and each
    problem is named next to the field."""
    person = await run_in_threadpool(_person, request, staff_id)
    posted = await request.form()
    photos = [
        Photo(item.filename or f"photo {i + 1}", await item.read())
        for i, item in enumerate(posted.getlist("photos"))
        if isinstance(item, UploadFile) and item.filename
    ]
    errors = FormErrors()
    faces: FaceEnrolment = request.app.state.faces
    if not photos:
        errors.add("photos", "staff.face.choose_photos")
    else:
        try:
            result = await run_in_threadpool(faces.enrol, staff_id, photos)
        except ConsentMissing:
            errors.add("photos", "staff.face.no_consent")
        except EnrolmentRejected as exc:
            errors.add("photos", "staff.face.rejected", detail="; ".join(exc.problems))
        except RuntimeError as exc:  # no face engine on this server
            errors.add("photos", REFUSED, detail=str(exc))
    if errors:
        return await _face_again(request, person, errors, {})
    session.flash(request, "staff.face.enrolled", "success", n=result.added, total=result.encodings)
    return session.redirect(request, f"/staff/{staff_id}#face")


@staff_router.post("/staff/{staff_id}/face/delete")
async def delete_face_data(request: Request, staff_id: str) -> Response:
    """Delete the face data (here and, through the gallery, on every edge); with ``withdraw`` the
    consent is withdrawn too."""
    form = await read_form(request)
    await run_in_threadpool(_person, request, staff_id)
    faces: FaceEnrolment = request.app.state.faces
    if form.get("withdraw") == "on":
        await run_in_threadpool(faces.withdraw_consent, staff_id)
        session.flash(request, "staff.face.withdrawn", "success")
    else:
        deleted = await run_in_threadpool(faces.delete, staff_id)
        session.flash(request, "staff.face.deleted" if deleted else "staff.face.nothing", "success")
    return session.redirect(request, f"/staff/{staff_id}#face")


async def _face_again(
    request: Request, person: dict[str, Any], errors: FormErrors, form: dict[str, str]
) -> Response:
    return await _staff_page(
        request,
        person["staff_id"],
        _staff_form(person),
        FormErrors(),
        422,
        face_errors=errors,
        face_form=form,
    )
