"""Sign-in, sign-out, the start page that sends each role home, and the signed-in user's own page."""

from __future__ import annotations

from fastapi import Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.api.access_policy import AccessControl
from server.services.auth import LoginRefused, LoginThrottled, Principal, Role
from server.web import session
from server.web.forms import FormErrors, read_form
from server.web.rendering import page_router, render, today_in_office
from server.web.today import check_ins_of, day_bounds

pages_router = page_router()

_HOME = {Role.ADMIN: "/dashboard", Role.HR: "/dashboard", Role.INSPECTOR: "/dashboard", Role.STAFF: "/me"}


@pages_router.get("/")
def home(request: Request) -> Response:
    principal: Principal = request.state.principal
    return session.redirect(request, _HOME[principal.role])


@pages_router.get("/signin")
def sign_in_form(request: Request) -> Response:
    return render(request, "signin.html", {"next": session.safe_next(request.query_params.get("next"))})


@pages_router.post("/signin")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    errors = FormErrors()
    errors.required(form, "username", "password")
    errors.max_length(form, "username", 64)
    errors.max_length(form, "password", 1024)
    next_page = session.safe_next(form.get("next"))
    if errors:
        return _sign_in_again(request, form, errors, next_page, status.HTTP_422_UNPROCESSABLE_CONTENT)
    access: AccessControl = request.app.state.access
    address = request.client.host if request.client else "unknown"
    username = form["username"].strip()
    try:
        issued = await run_in_threadpool(access.authenticator.login, username, form["password"], address)
    except LoginThrottled as exc:
        errors.add("", "signin.throttled", seconds=exc.retry_after_seconds)
        response = _sign_in_again(request, form, errors, next_page, status.HTTP_429_TOO_MANY_REQUESTS)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    except LoginRefused:
        errors.add("", "signin.refused")
        return _sign_in_again(request, form, errors, next_page, status.HTTP_401_UNAUTHORIZED)
    request.state.audit_actor = username
    session.start_session(request, issued)
    return session.redirect(request, next_page)


def _sign_in_again(
    request: Request, form: dict[str, str], errors: FormErrors, next_page: str, code: int
) -> Response:
    typed = {"username": form.get("username", "")}  # never echo the password
    context = {"form": typed, "errors": errors.as_context(), "next": next_page}
    return render(request, "signin.html", context, status_code=code)


@pages_router.post("/signout")
def sign_out(request: Request) -> Response:
    session.end_session(request)
    session.flash(request, "signin.signed_out", "success")
    return session.redirect(request, "/signin")


@pages_router.get("/me")
def my_page(request: Request) -> Response:
    """Who is signed in, and (for a user linked to a staff member) their check-ins today."""
    principal: Principal = request.state.principal
    services = request.app.state.attendance
    check_ins: list[dict[str, object]] = []
    if principal.staff_id:
        people = services.store.staff(staff_id=principal.staff_id)
        pins = list(people[0]["terminal_user_ids"]) if people else []
        since, until = day_bounds(today_in_office(request, services.engine.clock()), services.settings.zone)
        check_ins = check_ins_of(request.app.state.kaoqin.engine, principal.staff_id, pins, since, until)
    return render(request, "me.html", {"check_ins": check_ins})
