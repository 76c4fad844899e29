"""The attendance engine: decide every person's days over a range, set-based, and keep the
incidents that follow from them (P1 from days, P6 from the detectors) in step with the data.

One run loads the range's punches, faces, absences and device reports in a few queries, decides in
memory with the pure rules of server.domain, and writes back only what changed. A day is decided only
once every device of the person's site has reported past its window; until then it stays pending.
"""

from __future__ import annotations

import logging
import threading
import time as time_module
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from server.adapters.decision_store import DecisionStore, EngineInputs
from server.domain.day_decision import (
    DayResult,
    DayWindow,
    day_window,
    decide_day,
    is_day_complete,
)
from server.domain.detectors import DetectionInputs, DetectorThresholds, detect_all
from server.domain.incidents import DetectedIncident, P1Thresholds, p1_incidents
from server.services.attendance_settings import AttendanceSettings
from server.services.incidents import Clock, IncidentService, Reconciliation, utc_now
from server.services.working_time_models import national_calendar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayChange:
    staff_id: str
    day: date
    before: str | None  # the stored status, None when the day was pending
    after: str


@dataclass
class RunReport:
    start: date
    end: date
    decided: int = 0
    pending: int = 0
    changes: list[DayChange] = field(default_factory=list)
    incidents: Reconciliation = field(default_factory=Reconciliation)
    dry_run: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each phase

    def as_text(self) -> str:
        verb = "would" if self.dry_run else "did"
        lines = [
            f"{self.start.isoformat()}..{self.end.isoformat()}: {self.decided} day(s) decided, "
            f"{self.pending} pending (a device of the site has not reported past them)",
            f"days that {verb} change: {len(self.changes)}",
        ]
        lines += [
            f"  {c.staff_id} {c.day.isoformat()}: {c.before or 'pending'} -> {c.after}" for c in self.changes
        ]
        lines.append(f"incidents that {verb} be raised: {len(self.incidents.raised)}")
        lines += [
            f"  {i.key} ({i.prohibition.value}, confidence {i.confidence}): {i.summary}"
            for i in self.incidents.raised
        ]
        lines.append(f"incidents that {verb} be withdrawn: {len(self.incidents.withdrawn)}")
        lines += [f"  {key}: {reason}" for key, reason in self.incidents.withdrawn]
        lines.append(f"incidents that {verb} be reinstated: {len(self.incidents.reinstated)}")
        lines += [f"  {key}" for key in self.incidents.reinstated]
        return "\n".join(lines)


class _Stopwatch:
    """Seconds per phase of a run, for the log and the benchmark."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time_module.perf_counter()

    def lap(self, name: str) -> None:
        now = time_module.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


class AttendanceEngine:
    def __init__(
        self,
        store: DecisionStore,
        incidents: IncidentService,
        settings: AttendanceSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.settings = settings
        self.zone = settings.zone
        self.clock = clock
        self._lock = threading.Lock()

    def run(
        self,
        start: date,
        end: date,
        *,
        dry_run: bool = False,
        p1: P1Thresholds | None = None,
        detectors: DetectorThresholds | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> RunReport:
        """Decide ``start``..``end`` (inclusive); with ``dry_run`` write nothing and report what would change.
        ``progress(done, total)`` is called as each person's days are decided (the long part of a
        run over months), e.g. for ``kaoqin rules replay``'s progress bar."""
        # One run at a time in this process: the scheduler and an API call would otherwise both
        # raise the same new finding.
        with self._lock:
            return self._run(start, end, dry_run, p1, detectors, progress)

    def _run(
        self,
        start: date,
        end: date,
        dry_run: bool,
        p1: P1Thresholds | None,
        detectors: DetectorThresholds | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> RunReport:
        if end < start:
            raise ValueError(f"to: {end.isoformat()} is before from: {start.isoformat()}")
        # Marks of an overnight shift fall on the next day; the day before may reach into the range.
        since = datetime.combine(start - timedelta(days=1), time(0), self.zone)
        until = datetime.combine(end + timedelta(days=2), time(0), self.zone)
        thresholds = detectors or self.settings.detectors()
        # recurring_pair judges each day over the same look-back, whatever the run's range.
        pair_since = datetime.combine(
            start - timedelta(days=thresholds.recurring_pair_lookback_days - 1), time(0), self.zone
        )
        clock = _Stopwatch()
        inputs = self.store.load_inputs(since, until, pair_since)
        clock.lap("load")
        results, pending = self._decide(inputs, start, end, progress)
        clock.lap("decide")
        report = RunReport(
            start, end, decided=len(results), pending=pending, dry_run=dry_run, seconds=clock.laps
        )

        stored = self.store.stored_days(start, end)
        changed = []
        for result in results:
            before = stored.get((result.staff_id, result.day))
            if before != result.summary():
                changed.append(result)
                report.changes.append(
                    DayChange(
                        result.staff_id, result.day, str(before[0]) if before else None, result.status.value
                    )
                )
        if not dry_run:
            self.store.write_days(changed, self.clock(), stored.keys())
        clock.lap("write days")

        decided = {(r.staff_id, r.day) for r in results}
        found = self.findings(inputs, results, decided, p1 or self.settings.p1(), thresholds, start, end)
        by_key = {(r.staff_id, r.day): r for r in results}
        clock.lap("rules")

        def why_gone(key: str) -> str:
            parts = key.split(":")
            if parts[0] == "P1" and len(parts) >= 4:
                day = by_key.get((parts[2], date.fromisoformat(parts[3])))
                if day is not None:
                    return f"re-decided: {parts[3]} is now {day.status.value} for {parts[2]}"
            return "re-decided: the rule no longer finds it in the current data"

        departments = {s.staff_id: s.department_id for s in inputs.staff}
        report.incidents = self.incidents.reconcile(
            found,
            datetime.combine(start, time(0), self.zone),
            datetime.combine(end + timedelta(days=1), time(0), self.zone),
            departments,
            dry_run=dry_run,
            why_gone=why_gone,
        )
        clock.lap("incidents")
        logger.info(
            "attendance %s..%s: %d decided, %d pending, %d changed, %d raised, %d withdrawn%s",
            start,
            end,
            report.decided,
            report.pending,
            len(report.changes),
            len(report.incidents.raised),
            len(report.incidents.withdrawn),
            " (dry run)" if dry_run else "",
        )
        return report

    def run_new(self, stored_since: datetime, lookback_days: int) -> list[RunReport]:
        """Decide what may have changed: the last ``lookback_days`` up to yesterday (days become
        complete as devices report), and any older day a record stored since ``stored_since``
        falls on (a late record re-decides its day)."""
        today = self.clock().astimezone(self.zone).date()
        recent_start = today - timedelta(days=lookback_days)
        reports = [self.run(recent_start, today - timedelta(days=1))]
        older = sorted(d for d in self.store.days_touched(stored_since, self.zone) if d < recent_start)
        reports += [self.run(day, day) for day in older]
        return reports

    def _decide(
        self,
        inputs: EngineInputs,
        start: date,
        end: date,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[DayResult], int]:
        calendar = national_calendar(start, end, inputs.overrides)
        span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        calendar_days = {day: calendar.day(day) for day in span}
        results: list[DayResult] = []
        pending = 0
        now = self.clock()
        windows: dict[tuple[str, date], DayWindow] = {}
        completeness: dict[tuple[str, datetime], bool] = {}
        for done, person in enumerate(inputs.staff, start=1):
            timetable = inputs.timetables[person.timetable_id]
            # The person's marks in time order, cut per day by bisection on the day's window.
            marks = sorted(inputs.marks.get(person.staff_id, ()))
            times = [m.at for m in marks]
            devices = inputs.site_devices.get(person.site_id, [])
            absences = inputs.absences.get(person.staff_id, [])
            day = start
            while day <= end:
                window = windows.get((timetable.timetable_id, day))
                if window is None:
                    window = day_window(timetable.version_for(day), day, self.zone)
                    windows[timetable.timetable_id, day] = window
                # A site without registered devices has nothing to wait for but the clock.
                key = (person.site_id, window.end)
                complete = completeness.get(key)
                if complete is None:
                    complete = completeness[key] = is_day_complete(window.end, devices, inputs.reported_until)
                if complete and (devices or window.end <= now):
                    in_window = marks[bisect_left(times, window.start) : bisect_left(times, window.end)]
                    results.append(
                        decide_day(
                            person.staff_id,
                            day,
                            timetable,
                            calendar_days[day],
                            in_window,
                            absences,
                            self.zone,
                            window,
                        )
                    )
                else:
                    pending += 1
                day += timedelta(days=1)
            if progress:
                progress(done, len(inputs.staff))
        return results, pending

    def findings(
        self,
        inputs: EngineInputs,
        results: list[DayResult],
        decided: set[tuple[str, date]],
        p1: P1Thresholds,
        thresholds: DetectorThresholds,
        start: date,
        end: date,
    ) -> list[DetectedIncident]:
        """P1 from the decided days and P6 from the detectors, on decided days only: a finding on a
        day whose data may still arrive (a camera not yet reported) could be false. A rule that
        finds one pattern on several days (recurring_pair) gives one finding, on its earliest day."""
        substitutes = {s.staff_id: s.substitute_staff_id for s in inputs.staff if s.substitute_staff_id}
        found = p1_incidents(results, substitutes, p1)
        biometric = frozenset(
            s.staff_id for s in inputs.staff if inputs.timetables[s.timetable_id].require_biometric
        )
        detection = DetectionInputs(
            punches=inputs.punches,
            faces=inputs.faces,
            cameras_of_terminal=inputs.cameras_of_terminal,
            travel_minutes=inputs.travel_minutes,
            biometric_required=biometric,
            zone=self.zone,
            pair_punches=inputs.pair_punches,
            first_day=start,
            last_day=end,
        )
        found += [hit for hit in detect_all(detection, thresholds) if (hit.staff_id, hit.day) in decided]
        earliest: dict[str, DetectedIncident] = {}
        for hit in sorted(found, key=lambda f: (f.key, f.day)):
            earliest.setdefault(hit.key, hit)
        return list(earliest.values())
