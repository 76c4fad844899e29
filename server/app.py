"""Composition root of the server: settings in, a FastAPI app with its background parts out.

At start-up (lifespan) the database is migrated to head, the embedded broker is started when no
external broker is configured, and the MQTT consumer connects; at shutdown they stop in reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import version

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from server.adapters.audit_log import AuditLog
from server.adapters.db import create_db_engine
from server.adapters.embedded_broker import EmbeddedBroker
from server.adapters.ingest_store import SqlIngestStore
from server.adapters.migrate import migrate
from server.adapters.mqtt_consumer import MqttConsumer, MqttTls
from server.adapters.read_store import ReadStore
from server.adapters.site_roster_store import SqlSiteRoster
from server.adapters.user_store import RecordOwners, UserStore
from server.api.access_policy import AccessControl, authorize
from server.api.attendance_deps import AttendanceServices, start_attendance_scheduler
from server.api.attendance_routes import attendance_router
from server.api.audit_middleware import AuditMiddleware
from server.api.auth_routes import auth_router
from server.api.dependencies import ApiContext
from server.api.edge_routes import edge_router
from server.api.errors import install_error_handlers
from server.api.faces import face_router, start_face_services
from server.api.incident_routes import incident_router
from server.api.metrics_routes import ServerMetricSources, build_metrics_registry, metrics_router
from server.api.registry_routes import registry_router, start_registry_services
from server.api.routes import health_router, router
from server.api.terminal_routes import terminal_router
from server.reports.jobs import ReportServices
from server.services.auth import Authenticator, token_secret
from server.services.face_enrolment import PhotoEncoder
from server.services.incidents import Clock, utc_now
from server.services.ingest import IngestService, IngestStats
from server.services.terminal_sync import TemplateRelay
from server.settings import ServerSettings
from server.web import install_web

logger = logging.getLogger(__name__)

# How long start-up waits for the first broker subscription before serving anyway (the consumer
# keeps reconnecting in the background, and /healthz reports 503 until it is subscribed).
_BROKER_WAIT_SECONDS = 10.0


def create_app(
    settings: ServerSettings, *, photo_encoder: PhotoEncoder | None = None, clock: Clock = utc_now
) -> FastAPI:
    """Build the app; nothing connects until the app's lifespan starts. ``photo_encoder`` finds faces
    in enrolment photos (``kaoqin server`` passes the cameras' engine; without it enrolment answers 503).
    ``clock`` is the attendance engine's time (decisions, incidents, the year of a warning)."""
    signing_secret = token_secret(settings.auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await run_in_threadpool(migrate, settings.database_url)
            engine = create_db_engine(settings.database_url)
            stack.callback(engine.dispose)
            app.state.access = AccessControl(
                Authenticator(UserStore(engine), signing_secret, settings.auth), RecordOwners(engine)
            )
            app.state.audit_log = AuditLog(engine)

            if settings.mqtt_url is None:
                broker = EmbeddedBroker(settings.embedded_broker_host, settings.embedded_broker_port)
                await run_in_threadpool(broker.start)
                stack.callback(broker.stop)

            stats = IngestStats()
            template_relay = TemplateRelay(SqlSiteRoster(engine))  # sends through the consumer below
            consumer = MqttConsumer(
                settings.broker_url,
                settings.mqtt_client_id,
                IngestService(SqlIngestStore(engine), stats, relay_templates=template_relay.relay),
                batch_size=settings.ingest_batch_size,
                batch_wait_seconds=settings.ingest_batch_wait_seconds,
                mqtt5=settings.uses_mqtt5,
                shared_group=settings.mqtt_shared_group,
                username=settings.mqtt_username,
                password=settings.mqtt_password(),
                tls=MqttTls(settings.mqtt_ca_file, settings.mqtt_cert_file, settings.mqtt_key_file),
            )
            template_relay.sender = consumer
            consumer.start()
            stack.callback(consumer.stop)
            if not await run_in_threadpool(consumer.wait_until_connected, _BROKER_WAIT_SECONDS):
                logger.warning("not yet subscribed on %s; serving anyway and retrying", settings.broker_url)

            app.state.kaoqin = ApiContext(
                engine=engine,
                read_store=ReadStore(engine),
                ingest_stats=stats,
                broker_url=settings.broker_url,
                broker_connected=lambda: consumer.connected,
                command_sender=consumer,
            )
            app.state.metrics_registry = build_metrics_registry(
                ServerMetricSources(
                    stats=stats,
                    read_store=app.state.kaoqin.read_store,
                    consumer_backlog=lambda: consumer.queued,
                    broker_connected=lambda: consumer.connected,
                )
            )
            app.state.attendance = AttendanceServices.build(engine, settings.attendance, clock)
            stack.callback(start_attendance_scheduler(app.state.attendance))
            app.state.reports = ReportServices.build(
                engine, settings.reports, settings.attendance.zone, app.state.attendance.engine
            )
            stack.callback(app.state.reports.jobs.shutdown)
            stack.callback(
                start_face_services(
                    app,
                    engine,
                    settings.faces,
                    encoder=photo_encoder,
                    publisher=consumer,
                    broker_connected=lambda: consumer.connected,
                )
            )
            stack.callback(start_registry_services(app, engine, settings.firmware_configs_dir, consumer))
            logger.info("server ready (database and broker %s)", settings.broker_url)
            yield
            logger.info("server shutting down")

    app = FastAPI(
        title="Kaoqin server",
        version=version("kaoqin"),
        summary="Attendance events from edge agents, stored once and served over HTTP.",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],  # every route: server/api/access_policy.py
    )
    app.include_router(auth_router)
    app.include_router(router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(terminal_router)
    app.include_router(attendance_router)
    app.include_router(incident_router)
    app.include_router(face_router)
    app.include_router(edge_router)
    app.include_router(registry_router)
    install_web(app, signing_secret)  # the pages: server/web, docs/web.md
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware, audit_log=lambda: getattr(app.state, "audit_log", None))
    return app
