"""The audit log on SQLite and PostgreSQL: what the API records, ``kaoqin audit verify`` on an intact
log and after a row was edited, deleted or inserted with raw SQL, and concurrent writers."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from contracts import FaceObservation
from contracts.events import FaceLiveness, FaceOutcome
from kaoqin.cli import main
from server.adapters.audit_log import AuditLog
from server.adapters.db import create_db_engine
from server.adapters.ingest_store import SqlIngestStore
from server.adapters.migrate import migrate
from server.domain.audit_chain import AuditRecord, chain_next
from server.services.ingest import IngestBatch
from tests.support.attendance_world import TIMETABLE
from tests.support.auth import running_app, sign_in

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, database_url: str) -> str:
    config = tmp_path / "server.yaml"
    config.write_text(f"database_url: {database_url}\n")
    return str(config)


def _filled_log(database_url: str, n: int) -> AuditLog:
    migrate(database_url)
    log = AuditLog(create_db_engine(database_url))
    for i in range(n):
        log.append(AuditRecord(AT, "hr-li", "put_staff", f"/api/v1/staff/s-{i}", {"i": i}))
    return log


def test_the_api_records_changes_decisions_and_biometric_views_but_not_plain_reads_or_refusals(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_app(database_url) as client:
        admin = sign_in(client, database_url)
        assert client.put("/api/v1/departments/d1", json={"name": "Division one"}).status_code == 204
        assert client.put("/api/v1/departments/d1", json={}).status_code == 422  # refused: not recorded
        assert client.get("/api/v1/departments").status_code == 200  # a plain read: not recorded
        assert client.put("/api/v1/faces/s-1/consent", json={"recorded_by": "hr-li"}).status_code == 200
        assert client.get("/api/v1/faces/s-1").status_code == 200
        observation = FaceObservation.create(
            edge_id="edge-1",
            camera_id="cam-1",
            track_id=1,
            occurred_at=AT,
            outcome=FaceOutcome.KNOWN,
            staff_id="s-1",
            distance=0.4,
            liveness=FaceLiveness.PASSED,
            snapshot_jpeg_b64=base64.b64encode(b"\xff\xd8\xff\xe0 evidence").decode(),
        )
        SqlIngestStore(client.app.state.kaoqin.engine).store_batch(IngestBatch(events=[observation]), AT)  # type: ignore[attr-defined]
        snapshot = client.get(f"/api/v1/faces/observations/{observation.event_id}/snapshot")
        assert snapshot.status_code == 200
        log: AuditLog = client.app.state.audit_log  # type: ignore[attr-defined]
        entries = list(log.entries())
    summary = [(e.actor, e.action, e.target, e.details["status"]) for e in entries]
    assert summary == [
        (admin, "sign_in", "/api/v1/auth/token", 200),
        (admin, "put_department", "/api/v1/departments/d1", 204),
        (admin, "record_consent", "/api/v1/faces/s-1/consent", 200),
        (admin, "person", "/api/v1/faces/s-1", 200),
        (admin, "observation_snapshot", f"/api/v1/faces/observations/{observation.event_id}/snapshot", 200),
    ]
    assert entries[1].details["role"] == "admin"
    assert entries[1].details["path_params"] == {"department_id": "d1"}
    assert "password" not in str(entries[0].details)

    assert main(["audit", "verify", "--config", _config(tmp_path, database_url)]) == 0
    assert "intact: 5 entries" in capsys.readouterr().out


def test_a_decision_its_appeal_and_an_attachment_view_are_recorded_with_the_returned_ids(
    database_url: str,
) -> None:
    with running_app(database_url) as client:
        sign_in(client, database_url)
        for path, body in [
            ("/api/v1/sites/main", {"name": "Main"}),
            ("/api/v1/departments/d1", {"name": "Division one"}),
        ]:
            assert client.put(path, json=body).status_code == 204
        assert client.put("/api/v1/timetables/standard", json=TIMETABLE).status_code == 204
        person = {"name": "Zhao", "department_id": "d1", "site_id": "main", "timetable_id": "standard"}
        assert client.put("/api/v1/staff/s-1", json=person).status_code == 204
        incident = {
            "staff_id": "s-1",
            "prohibition": "P2",
            "summary": "a game at the window",
            "occurred_at": "2025-06-12T10:20:00+08:00",
            "reported_by": "inspector-wang",
        }
        incident_id = client.post("/api/v1/incidents", json=incident).json()["incident_id"]
        for action in ("review", "confirm"):
            decision = {"action": action, "decided_by": "hr-li", "reason": "the snapshot is clear"}
            assert client.post(f"/api/v1/incidents/{incident_id}/decision", json=decision).status_code == 200
        appeal = {"by": "s-1", "text": "I was on duty at the archive"}
        assert client.post(f"/api/v1/incidents/{incident_id}/appeal", json=appeal).status_code == 200
        attached = client.post(
            f"/api/v1/incidents/{incident_id}/attachments",
            files={"file": ("window.jpg", b"\xff\xd8 photo", "image/jpeg")},
            data={"uploaded_by": "inspector-wang"},
        )
        attachment_id = attached.json()["attachment_id"]
        assert client.get(f"/api/v1/incidents/{incident_id}/attachments/{attachment_id}").status_code == 200
        entries = list(client.app.state.audit_log.entries())  # type: ignore[attr-defined]
    by_action = {e.action: e for e in entries}
    assert by_action["attach"].details["returned"] == {"attachment_id": attachment_id}
    assert by_action["get_attachment"].target.endswith(attachment_id)
    assert by_action["report_incident"].details["returned"]["incident_id"] == incident_id
    decisions = [e for e in entries if e.action == "decide_incident"]
    assert [e.details["path_params"] for e in decisions] == [{"incident_id": incident_id}] * 2
    assert by_action["appeal_incident"].target == f"/api/v1/incidents/{incident_id}/appeal"


TAMPERING = {
    "edited": ("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 4", 4),
    "deleted": ("DELETE FROM audit_log WHERE seq = 3", 3),
    "last deleted": ("DELETE FROM audit_log WHERE seq = 6", 6),
    "inserted": (
        "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5; "
        "INSERT INTO audit_log SELECT 5, at, actor, 'forged', target, details, prev_hash, hash "
        "FROM audit_log WHERE seq = 105",
        5,
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_verify_exits_1_naming_the_first_broken_seq_after_raw_sql_tampering(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    log = _filled_log(database_url, 6)
    statements, broken = TAMPERING[how]
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as c:
            for statement in statements.split("; "):
                c.execute(text(statement))
    finally:
        engine.dispose()
    assert main(["audit", "verify", "--config", _config(tmp_path, database_url)]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at seq {broken}:" in out, out
    assert log.verify().broken_seq == broken


def test_a_correctly_chained_forgery_appended_behind_the_head_is_found(database_url: str) -> None:
    log = _filled_log(database_url, 3)
    last = list(log.entries())[-1]
    forged = chain_next(AuditRecord(last.at, "intruder", "put_staff", "/x", {}), last.seq, last.hash)
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash)"
                    " SELECT :seq, at, 'intruder', 'put_staff', '/x', '{}', :prev, :hash"
                    " FROM audit_log WHERE seq = :last"
                ),
                {"seq": forged.seq, "prev": forged.prev_hash, "hash": forged.hash, "last": last.seq},
            )
    finally:
        engine.dispose()
    report = log.verify()
    assert report.broken_seq == 4
    assert "added" in (report.problem or "")


def test_concurrent_writers_from_several_engines_never_fork_the_chain(database_url: str) -> None:
    migrate(database_url)
    engines = [create_db_engine(database_url) for _ in range(4)]  # as if four server processes
    failures: list[BaseException] = []

    def write(log: AuditLog, writer: int) -> None:
        try:
            for i in range(25):
                log.append(
                    AuditRecord(datetime.now(UTC), f"writer-{writer}", "put_staff", f"/s/{i}", {"i": i})
                )
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(AuditLog(engines[n % 4]), n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        report = AuditLog(engines[0]).verify()
        assert report.intact, report
        assert report.count == 8 * 25
        seqs = [e.seq for e in AuditLog(engines[0]).entries()]
        assert seqs == list(range(1, 201))
    finally:
        for engine in engines:
            engine.dispose()
