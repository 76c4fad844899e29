"""The incident and warning pages against the real app on SQLite and PostgreSQL (session cookies, CSRF, the real
services): an inspector's report with an attachment, their own review, confirmation (or dismissal)
and warning, recorded as theirs; HR's same rights and the head's escalation in the register; a staff
member's explanation and appeal; the filters, the form errors next to their fields with nothing
saved, and each role's refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.adapters.db import create_db_engine
from server.adapters.incident_store import IncidentQuery
from server.adapters.tables_attendance import incident_attachments, incidents
from server.api.access_policy import DENIED_HEADER
from server.domain.incidents import DetectedIncident, Prohibition
from tests.support.attendance_world import AttendanceWorld, local
from tests.support.auth import running_app
from tests.support.web_session import HTML, field_error, page_sign_in, post_form, seed_office

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 3)
PHOTO = b"\x89PNG\r\n\x1a\n" + b"inspector's photo of the window" * 10


@pytest.fixture
def office(database_url: str) -> Iterator[tuple[TestClient, str]]:
    """The office on SQLite and on PostgreSQL."""
    with running_app(database_url) as client:
        seed_office(client, database_url)
        yield client, database_url


def _count(database_url: str, table: object) -> int:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _report(client: TestClient, staff_id: str, summary: str, files: list | None = None) -> str:
    reply = post_form(
        client,
        "/incidents/new",
        "/incidents",
        {"staff_id": staff_id, "prohibition": "P2", "occurred_at": "2026-11-03T10:20", "summary": summary},
        files=files,
    )
    assert reply.status_code == 303, reply.text
    found = re.fullmatch(r"/incidents/([0-9a-f-]+)", reply.headers["location"])
    assert found, reply.headers["location"]
    return found.group(1)


def _decide(client: TestClient, incident_id: str, action: str, reason: str, route: str = "decision") -> int:
    page = f"/incidents/{incident_id}"
    reply = post_form(client, page, f"{page}/{route}", {"action": action, "reason": reason})
    return reply.status_code


def test_an_inspector_reports_with_an_attachment_confirms_and_warns_and_the_register_shows_it(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    inspector = page_sign_in(client, database_url, "inspector")
    incident_id = _report(
        client, "a", "playing a game at window 3", [("file", ("window.png", PHOTO, "image/png"))]
    )
    detail = client.get(f"/incidents/{incident_id}", headers=HTML)
    assert detail.status_code == 200
    assert 'data-testid="incident-state">已上报<' in detail.text
    assert "2026-11-03 10:20:00" in detail.text  # the office's wall clock, as typed
    link = re.search(
        r'href="(/incidents/[^"]+/attachments/[^"]+)" data-testid="attachment-link">window.png<', detail.text
    )
    assert link, "the attachment is listed"
    assert 'data-testid="action-review"' in detail.text  # the efficiency office follows up its reports
    assert 'data-testid="action-confirm"' not in detail.text  # reported: review comes first
    shown = client.get(link.group(1))
    assert shown.status_code == 200
    assert shown.content == PHOTO
    assert shown.headers["content-type"] == "image/png"
    views = [e for e in client.app.state.audit_log.entries() if e.action == "attachment"]  # type: ignore[attr-defined]
    assert [(v.actor, v.details["path_params"]["incident_id"]) for v in views] == [(inspector, incident_id)]

    assert _decide(client, incident_id, "confirm", "too early") == 422  # reported -> review first
    assert _decide(client, incident_id, "review", "") == 422  # a decision needs its reason
    assert _decide(client, incident_id, "review", "checking the photo") == 303
    assert 'data-testid="action-confirm"' in client.get(f"/incidents/{incident_id}", headers=HTML).text
    assert _decide(client, incident_id, "confirm", "the photo is clear") == 303
    detail = client.get(f"/incidents/{incident_id}", headers=HTML).text
    assert 'data-testid="incident-state">已确认<' in detail
    assert 'data-testid="warning-form"' in detail
    history = re.search(r'<table id="history".*?</table>', detail, re.S)
    assert history
    assert history.group(0).count("<tr>") == 4
    decided = re.findall(
        r"<tr><td>[^<]*</td><td>([^<]*)</td>.*?<td>([^<]*)</td></tr>", history.group(0), re.S
    )
    assert (inspector, "checking the photo") in decided  # who decided is the signed-in inspector
    assert (inspector, "the photo is clear") in decided
    reply = post_form(
        client, f"/incidents/{incident_id}", f"/incidents/{incident_id}/warning", {"reason": "P2 at window 3"}
    )
    assert reply.status_code == 303
    assert (
        'data-testid="warning-form"' not in client.get(f"/incidents/{incident_id}").text
    )  # one incident, one warning

    register = client.get("/warnings?year=2026", headers=HTML)
    assert register.status_code == 200
    rows = re.findall(
        r'<tr id="w-[^"]+" data-warning="[^"]+" data-kind="(\w+)">(.*?)</tr>', register.text, re.S
    )
    assert [(kind, "name-a" in body, "P2 at window 3" in body) for kind, body in rows] == [
        ("personal", True, True)
    ]
    stored = client.app.state.attendance.incidents.store.warnings(2026, "a", None)  # type: ignore[attr-defined]
    assert [w["issued_by"] for w in stored] == [inspector]


def test_an_inspector_dismisses_an_incident_under_review_with_a_reason(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    inspector = page_sign_in(client, database_url, "inspector")
    incident_id = _report(client, "b", "a newspaper at the desk")
    assert _decide(client, incident_id, "review", "looking") == 303
    assert _decide(client, incident_id, "dismiss", "") == 422
    assert _decide(client, incident_id, "dismiss", "it was the office's own bulletin") == 303
    detail = client.get(f"/incidents/{incident_id}", headers=HTML).text
    assert 'data-testid="incident-state">已驳回<' in detail
    assert 'data-testid="decision-form"' not in detail  # dismissed: nothing left to decide
    assert 'data-testid="warning-form"' not in detail  # no warning for a dismissed incident
    history = client.app.state.attendance.incidents.store.incident(incident_id)["history"]  # type: ignore[attr-defined]
    assert (history[-1]["actor"], history[-1]["action"], history[-1]["reason"]) == (
        inspector,
        "dismiss",
        "it was the office's own bulletin",
    )


def test_the_second_warning_of_a_department_escalates_to_its_head_linked_in_the_register(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "hr")
    warned = []
    for staff_id in ("a", "b"):
        incident_id = _report(client, staff_id, f"cards with {staff_id}")
        for action in ("review", "confirm"):
            assert _decide(client, incident_id, action, "seen") == 303
        reply = post_form(
            client, f"/incidents/{incident_id}", f"/incidents/{incident_id}/warning", {"reason": "cards"}
        )
        assert reply.status_code == 303
        warned.append(incident_id)
    register = client.get("/warnings?year=2026&department=d1", headers=HTML).text
    ids = re.findall(r'<tr id="w-([^"]+)" data-warning="[^"]+" data-kind="(\w+)">', register)
    personal = [w for w, kind in ids if kind == "personal"]
    escalation = [w for w, kind in ids if kind == "escalation"]
    assert len(personal) == 2
    assert len(escalation) == 1
    row = re.search(rf'<tr id="w-{escalation[0]}".*?</tr>', register, re.S)
    assert row
    assert "name-head1" in row.group(0)
    assert sorted(re.findall(r'data-cause="([^"]+)"', row.group(0))) == sorted(personal)
    for staff_warning in personal:  # each staff warning points at the escalation it fed
        assert f'data-escalation="{escalation[0]}"' in re.search(
            rf'<tr id="w-{staff_warning}".*?</tr>', register, re.S
        ).group(0)  # type: ignore[union-attr]
    assert 'data-warning="' not in client.get("/warnings?year=2026&department=d2", headers=HTML).text


def test_the_report_form_names_each_problem_next_to_its_field_and_saves_nothing(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "inspector")
    reply = post_form(
        client,
        "/incidents/new",
        "/incidents",
        {"staff_id": "", "prohibition": "P2", "occurred_at": "yesterday", "summary": ""},
    )
    assert reply.status_code == 422
    assert field_error(reply.text, "staff_id") == "此项必填"
    assert field_error(reply.text, "summary") == "此项必填"
    assert field_error(reply.text, "occurred_at") == "请填写日期和时间，格式为 年-月-日 时:分"
    assert 'value="yesterday"' in reply.text  # what was typed stays
    reply = post_form(
        client,
        "/incidents/new",
        "/incidents",
        {"staff_id": "nobody", "prohibition": "P9", "occurred_at": "2026-11-03T10:20", "summary": "x"},
    )
    assert reply.status_code == 422
    assert field_error(reply.text, "prohibition") is not None
    reply = post_form(
        client,
        "/incidents/new",
        "/incidents",
        {"staff_id": "nobody", "prohibition": "P2", "occurred_at": "2026-11-03T10:20", "summary": "x"},
    )
    assert reply.status_code == 422
    assert "nobody" in (field_error(reply.text, "staff_id") or "")
    reply = post_form(
        client,
        "/incidents/new",
        "/incidents",
        {
            "staff_id": "a",
            "prohibition": "P2",
            "occurred_at": "2026-11-03T10:20",
            "summary": "with an empty file",
        },
        files=[("file", ("empty.jpg", b"", "image/jpeg"))],
    )
    assert reply.status_code == 422
    assert "empty.jpg is empty" in (field_error(reply.text, "file") or "")
    assert _count(database_url, incidents) == 0
    assert _count(database_url, incident_attachments) == 0


def test_staff_see_only_their_own_incidents_and_may_explain_and_appeal_them(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "hr")
    own = _report(client, "a", "away from the desk")
    other = _report(client, "b", "cards")
    for action in ("review", "confirm"):
        assert _decide(client, own, action, "seen") == 303
    page_sign_in(client, database_url, "staff", staff_id="a")
    listed = client.get("/incidents", headers=HTML).text
    assert f'data-incident="{own}"' in listed
    assert f'data-incident="{other}"' not in listed
    assert client.get("/incidents?staff=b", headers=HTML).status_code == 403
    assert client.get(f"/incidents/{other}", headers=HTML).status_code == 404
    assert client.get("/incidents/new", headers=HTML).status_code == 403
    page = client.get(f"/incidents/{own}", headers=HTML).text
    assert 'data-testid="explain-form"' in page
    assert 'data-testid="appeal-form"' in page
    assert 'data-testid="decision-form"' not in page
    assert 'data-testid="warning-form"' not in page
    assert _decide(client, own, "explain", "", route="explanation") == 422
    assert _decide(client, own, "explain", "I was at the archive", route="explanation") == 303
    assert _decide(client, own, "appeal", "the archive log shows it", route="appeal") == 303
    page = client.get(f"/incidents/{own}", headers=HTML).text
    assert 'data-testid="incident-state">审核中<' in page
    assert "the archive log shows it" in page
    refused = post_form(
        client, f"/incidents/{own}", f"/incidents/{own}/decision", {"action": "dismiss", "reason": "mine"}
    )
    assert refused.status_code == 403
    assert refused.headers[DENIED_HEADER] == "denied"
    assert client.get("/warnings?staff=b", headers=HTML).status_code == 403


def test_the_list_filters_by_query_parameters_and_names_a_wrong_filter(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "hr")
    first = _report(client, "a", "one")
    second = _report(client, "e", "two")
    assert _decide(client, second, "review", "look") == 303
    reviewing = client.get("/incidents?state=under_review", headers=HTML).text
    assert f'data-incident="{second}"' in reviewing
    assert f'data-incident="{first}"' not in reviewing
    in_d1 = client.get("/incidents?department=d1", headers=HTML).text
    assert f'data-incident="{first}"' in in_d1
    assert f'data-incident="{second}"' not in in_d1
    assert f'data-incident="{first}"' in client.get("/incidents?since=2026-11-03&until=2026-11-03").text
    assert f'data-incident="{first}"' not in client.get("/incidents?since=2026-11-04").text
    wrong = client.get("/incidents?state=lost&since=03/11/2026", headers=HTML)
    assert wrong.status_code == 422
    assert field_error(wrong.text, "state") == "请从列表中选择"
    assert field_error(wrong.text, "since") == "请填写日期，格式为 年-月-日"
    assert client.get("/warnings?year=99", headers=HTML).status_code == 422
    english = client.get("/incidents?lang=en", headers=HTML).text
    assert "Report an incident" in english
    assert 'data-sort="time"' in english


def test_a_rule_incident_shows_its_evidence_and_its_snapshot_view_is_audited(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    engine = create_db_engine(database_url)
    world = AttendanceWorld(engine, client)
    jpeg = b"\xff\xd8\xff\xe0 face at the gate"
    seen = world.face("cam-gate-1", "e", local(DAY, "08:02"), terminal="T1", snapshot_jpeg=jpeg)
    other = world.face("cam-gate-1", "b", local(DAY, "08:03"), snapshot_jpeg=b"\xff\xd8 someone else")
    engine.dispose()
    finding = DetectedIncident(
        key=f"P6:face_mismatch:{seen}",
        staff_id="a",
        prohibition=Prohibition.P6,
        rule="face_mismatch",
        day=DAY,
        summary="camera saw e, not a, at the punch",
        evidence={
            "at": local(DAY, "08:02").isoformat(),
            "faces": [seen],
            "snapshots": [f"/api/v1/faces/observations/{seen}/snapshot"],
            "thresholds": {"face_window_seconds": 30},
        },
        confidence=0.8,
    )
    since = local(DAY, "00:00")
    client.app.state.attendance.incidents.reconcile(  # type: ignore[attr-defined]
        [finding], since, since + timedelta(days=1), {"a": "d1"}, dry_run=False
    )
    incident_id = client.app.state.attendance.incidents.store.incidents(IncidentQuery())[0][0]["incident_id"]  # type: ignore[attr-defined]

    admin = page_sign_in(client, database_url, "admin")
    page = client.get(f"/incidents/{incident_id}", headers=HTML).text
    assert "face_mismatch" in page
    assert "face_window_seconds" in page
    assert "0.80" in page
    assert "/api/v1/faces" not in page  # the page links its own audited route, not the API's
    link = f"/incidents/{incident_id}/snapshots/{seen}"
    assert f'href="{link}"' in page
    shown = client.get(link)
    assert shown.status_code == 200
    assert shown.content == jpeg
    assert client.get(f"/incidents/{incident_id}/snapshots/{other}").status_code == 404  # not its evidence
    views = [e for e in client.app.state.audit_log.entries() if e.action == "snapshot"]  # type: ignore[attr-defined]
    assert [(v.actor, v.details["path_params"]["event_id"]) for v in views] == [(admin, seen)]
    page_sign_in(client, database_url, "staff", staff_id="b")
    assert client.get(link).status_code == 404  # not about them
