"""The attendance engine's services as the routers reach them (``app.state.attendance``), and the
one place where their errors become HTTP answers that name what to fix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from server.adapters.attendance_store import AttendanceStore, NotFoundError
from server.adapters.decision_store import DecisionStore
from server.adapters.incident_store import IncidentStore
from server.domain.incidents import IncidentStateError
from server.services.attendance import AttendanceEngine
from server.services.attendance_scheduler import AttendanceScheduler
from server.services.attendance_settings import AttendanceSettings
from server.services.incidents import Clock, IncidentService, WarningService, utc_now


@dataclass
class AttendanceServices:
    store: AttendanceStore
    decisions: DecisionStore
    incidents: IncidentService
    warnings: WarningService
    engine: AttendanceEngine
    settings: AttendanceSettings

    @classmethod
    def build(
        cls, engine: Engine, settings: AttendanceSettings, clock: Clock = utc_now
    ) -> AttendanceServices:
        """``clock`` is the one time source of decisions, incidents and warnings (a warning's year
        is the year of its issue in the office's zone)."""
        decisions = DecisionStore(engine)
        incident_store = IncidentStore(engine)
        incidents = IncidentService(incident_store, settings.zone, clock)
        return cls(
            store=AttendanceStore(engine),
            decisions=decisions,
            incidents=incidents,
            warnings=WarningService(incident_store, settings.zone, clock),
            engine=AttendanceEngine(decisions, incidents, settings, clock),
            settings=settings,
        )


def start_attendance_scheduler(services: AttendanceServices) -> Callable[[], None]:
    """Start deciding days in the background (unless the interval is 0); returns how to stop it."""
    interval = services.settings.decide_interval_seconds
    if interval <= 0:
        return lambda: None
    scheduler = AttendanceScheduler(
        services.engine, interval, services.settings.decide_lookback_days, services.engine.clock
    )
    scheduler.start()
    return scheduler.stop


def attendance_services(request: Request) -> AttendanceServices:
    services: AttendanceServices = request.app.state.attendance
    return services


Services = Annotated[AttendanceServices, Depends(attendance_services)]


@contextmanager
def refusals(missing_status: int = status.HTTP_404_NOT_FOUND) -> Iterator[None]:
    """Turn the services' refusals into 404/409/422 with the service's message (which names the field)."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(missing_status, detail=str(exc)) from None
    except IncidentStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"conflicts with stored data: {exc.orig}"
        ) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
