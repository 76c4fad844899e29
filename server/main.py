"""Run the server process: uvicorn serving :func:`server.app.create_app`."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import uvicorn

from server.app import create_app
from server.services.face_enrolment import PhotoEncoder
from server.settings import ServerSettings

logger = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ServerStartError(RuntimeError):
    """The server could not start; the log says why."""


class _ReturningServer(uvicorn.Server):
    """uvicorn, except that a stop signal makes :meth:`run` *return* after the graceful shutdown.

    Stock uvicorn re-raises the captured signal once it has shut down, so the process dies by
    SIGTERM (or KeyboardInterrupt for SIGINT); ``serve()`` is called by the CLI, which should get
    control back and exit 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled in the main thread
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: ServerSettings, *, photo_encoder: PhotoEncoder | None = None) -> None:
    """Serve HTTP on http_host:http_port until SIGTERM or SIGINT, then shut down and return.

    Raises :class:`ServerStartError` if start-up fails (the cause is logged).

    On either signal uvicorn stops accepting requests and the app's lifespan stops the consumer,
    the embedded broker and the database engine. A second SIGINT forces an immediate exit.
    """
    config = uvicorn.Config(
        create_app(settings, photo_encoder=photo_encoder),
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        # Logging belongs to the process (the CLI configures it); uvicorn must not replace it.
        log_config=None,
        lifespan="on",
    )
    logger.info("serving HTTP on http://%s:%s", settings.http_host, settings.http_port)
    server = _ReturningServer(config)
    failure = (
        f"the server did not start on http://{settings.http_host}:{settings.http_port};"
        " see the log above for the cause"
    )
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits the process when the lifespan start-up fails
        raise ServerStartError(failure) from exc
    if not server.started:
        raise ServerStartError(failure)
    logger.info("server stopped")
