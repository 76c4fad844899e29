"""What the routers need from the composition root, reached through ``request.app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from server.adapters.read_store import ReadStore
from server.services.ingest import IngestStats
from server.services.terminal_sync import CommandSender


@dataclass
class ApiContext:
    """Set on ``app.state.kaoqin`` by server.app; the routers read only from it."""

    engine: Engine
    read_store: ReadStore
    ingest_stats: IngestStats
    broker_url: str
    broker_connected: Callable[[], bool]
    command_sender: CommandSender | None = None  # sends EdgeCommands (terminal sync)


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.kaoqin
    return context
