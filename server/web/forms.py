"""The form convention of every page: read the posted fields, validate on the server, and hand
the errors back to the template, where the ``field`` macro (templates/macros.html) shows each
message next to its field. A form with errors is re-rendered with status 422 and the values the
user typed (never the password), and nothing is saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, status

from server.web import session

CSRF_REFUSED = "csrf"  # the detail of the 403 a page POST gets without a valid CSRF token


@dataclass
class FormErrors:
    """Field name -> message key and its values ('' names the form as a whole)."""

    by_field: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, key: str, **values: Any) -> None:
        self.by_field.setdefault(name, {"key": key, "values": values})

    def required(self, form: dict[str, str], *names: str) -> None:
        for name in names:
            if not form.get(name, "").strip():
                self.add(name, "form.required")

    def max_length(self, form: dict[str, str], name: str, limit: int) -> None:
        if len(form.get(name, "")) > limit:
            self.add(name, "form.too_long", n=limit)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def as_context(self) -> dict[str, dict[str, Any]]:
        return dict(self.by_field)


async def read_form(request: Request) -> dict[str, str]:
    """The posted text fields (the CSRF field is checked already and left out)."""
    posted = await request.form()
    return {k: v for k, v in posted.items() if isinstance(v, str) and k != session.CSRF_FIELD}


async def check_csrf(request: Request) -> None:
    """Router dependency of the pages: a POST signed in by the session cookie, or anonymous (the
    sign-in form), must carry this browser's CSRF token. A bearer-token caller is exempt: a browser
    never attaches that header by itself."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    cookie_session = getattr(request.state, "session_cookie", False)
    if not cookie_session and getattr(request.state, "principal", None) is not None:
        return
    posted = await request.form()
    if not session.csrf_valid(request, posted.get(session.CSRF_FIELD)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_REFUSED)
