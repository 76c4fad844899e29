"""Writes the audit entry of every successful change (POST/PUT/PATCH/DELETE), decision and view of
biometric evidence, before the response leaves: a change whose entry cannot be written is
answered 500, never reported as done without a trace.

The access policy (server/api/access_policy.py) marks what to record on ``request.state.audit``;
this middleware only adds the outcome (status, the ids a creation returned) and appends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.adapters.audit_log import AuditLog
from server.domain.audit_chain import AuditRecord

logger = logging.getLogger(__name__)

_MAX_INSPECTED_BODY = 64 * 1024  # a created record's ids are in small JSON answers


def _returned_ids(content_type: str, body: bytes) -> dict[str, Any]:
    if "json" not in content_type or not body or len(body) > _MAX_INSPECTED_BODY:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if (k.endswith("_id") or k.endswith("_ids")) and isinstance(v, str | int | list)
    }


class AuditMiddleware:
    def __init__(self, app: ASGIApp, audit_log: Callable[[], AuditLog | None]) -> None:
        self.app = app
        self._audit_log = audit_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        passing = False

        async def hold_audited(message: Message) -> None:
            nonlocal passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                intent = scope.get("state", {}).get("audit")
                if intent is None or message["status"] >= 400:
                    passing = True
                    await send(message)
                    return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await self._record_then_send(scope, held, send)

        await self.app(scope, receive, hold_audited)

    async def _record_then_send(self, scope: Scope, held: list[Message], send: Send) -> None:
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        state = scope.get("state", {})
        intent = state["audit"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
        details = {**intent.details, "status": start["status"]}
        returned = _returned_ids(headers.get("content-type", ""), body)
        if returned:
            details["returned"] = returned
        record = AuditRecord(
            at=datetime.now(UTC),
            actor=str(state.get("audit_actor") or intent.actor),
            action=intent.action,
            target=scope.get("path", ""),
            details=details,
        )
        audit_log = self._audit_log()
        try:
            if audit_log is None:
                raise RuntimeError("the audit log is not open")
            await run_in_threadpool(audit_log.append, record)
        except Exception:
            logger.exception("could not write the audit entry of %s %s", intent.action, record.target)
            failure = json.dumps(
                {
                    "detail": f"{record.target}: done, but its audit entry could not be written; see the server log"
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(failure)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": failure})
            return
        for message in held:
            await send(message)
