"""Run the server process: uvicorn serving :func:`server.app.create_app`."""

from __future__ import annotations

import logging

import uvicorn

from server.app import create_app
from server.settings import ServerSettings

logger = logging.getLogger(__name__)


def serve(settings: ServerSettings) -> None:
    """Serve HTTP on http_host:http_port until SIGTERM or SIGINT, then shut down cleanly.

    uvicorn installs the signal handlers: on either signal it stops accepting requests, lets the
    app's lifespan stop the consumer, the embedded broker and the database engine, and returns.
    """
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        # Logging belongs to the process (the CLI configures it); uvicorn must not replace it.
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    logger.info("serving HTTP on http://%s:%s", settings.http_host, settings.http_port)
    server.run()
