"""Sign-in: ``POST /api/v1/auth/token`` (username and password, form or JSON) gives a short-lived
bearer token; ``GET /api/v1/auth/me`` says who the token belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from server.api.access_policy import AccessControl
from server.services.auth import LoginRefused, LoginThrottled, Principal

auth_router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeOut(BaseModel):
    username: str
    role: str
    staff_id: str | None


@auth_router.post("/token", response_model=TokenOut)
async def sign_in(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> TokenOut:
    """OAuth2 password flow: a token valid for ``auth.token_minutes``. Failed attempts are limited per
    username and per client address (then 429 with Retry-After)."""
    access: AccessControl = request.app.state.access
    address = request.client.host if request.client else "unknown"
    try:
        issued = await run_in_threadpool(access.authenticator.login, username, password, address)
    except LoginThrottled as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after_seconds)}
        ) from None
    except LoginRefused as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    request.state.audit_actor = username
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@auth_router.get("/me", response_model=MeOut)
def who_am_i(request: Request) -> MeOut:
    principal: Principal = request.state.principal
    return MeOut(username=principal.username, role=principal.role.value, staff_id=principal.staff_id)
