"""Error responses that say what to fix, not just that something failed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_HINTS = {
    "timezone_aware": "give the zone too, e.g. 2024-05-01T08:00:00+08:00 or ...Z",
    "datetime_from_date_parsing": "use an ISO 8601 time such as 2024-05-01T08:00:00+08:00",
    "datetime_parsing": "use an ISO 8601 time such as 2024-05-01T08:00:00+08:00",
    "datetime_type": "use an ISO 8601 time such as 2024-05-01T08:00:00+08:00",
}


def _explain(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ())]
    where = f"{location[0]} parameter {'.'.join(location[1:])!r}" if len(location) > 1 else "request"
    text = f"{where}: {error.get('msg', 'invalid')}"
    if "input" in error:
        text += f" (got {error['input']!r})"
    hint = _HINTS.get(str(error.get("type")))
    return f"{text}; {hint}" if hint else text


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "message": "; ".join(_explain(error) for error in errors),
            "detail": [{k: v for k, v in e.items() if k != "ctx"} for e in errors],
        },
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make 422 responses carry a readable ``message`` beside FastAPI's ``detail`` list."""
    app.add_exception_handler(RequestValidationError, _validation_error)
