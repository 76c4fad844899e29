"""The staff and department pages against the real app on SQLite with the real face engine: create
and edit forms checked by the API's own models and the store (each problem next to its field,
nothing saved), face enrolment with recorded consent (a non-image, a photo without a face or with
several refused next to the field and nothing stored; a real photo enrolled; deletion), and roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kaoqin.face_encoder import DevicesPhotoEncoder
from server.app import create_app
from server.services.face_settings import FaceSettings
from server.settings import ServerSettings
from tests.support.processes import wait_until
from tests.support.services import free_port
from tests.support.web_session import HTML, field_error, page_sign_in, post_form, seed_office

pytestmark = pytest.mark.integration

FACES = Path("/work/shared/testdata/faces")
ENCODER = DevicesPhotoEncoder()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    database_url = f"sqlite:///{tmp_path / 'staff.sqlite3'}"
    settings = ServerSettings(
        database_url=database_url,
        embedded_broker_port=free_port(),
        faces=FaceSettings(
            encryption_key="web-staff-face-key-0123456789abcdef", encryption_key_file=tmp_path / "k"
        ),
    )
    with TestClient(create_app(settings, photo_encoder=ENCODER)) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 20, "the server to be healthy")
        seed_office(client, database_url)
        yield client, database_url


def _photo(relative: str) -> tuple[str, bytes, str]:
    path = FACES / relative
    if not path.exists():
        pytest.fail(f"test photo {path} is missing (shared test data)")
    return (path.name, path.read_bytes(), "image/png" if path.suffix == ".png" else "image/jpeg")


def _staff(client: TestClient, staff_id: str) -> dict[str, object]:
    people = client.app.state.attendance.store.staff(staff_id=staff_id)  # type: ignore[attr-defined]
    return dict(people[0]) if people else {}


def test_hr_creates_and_edits_departments_and_staff_with_each_problem_next_to_its_field(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "hr")
    good = {
        "staff_id": "z1",
        "name": "Zhao",
        "department_id": "d2",
        "site_id": "hq",
        "timetable_id": "standard",
    }
    reply = post_form(client, "/staff/new", "/staff", {**good, "staff_id": "bad id!", "name": ""})
    assert reply.status_code == 422
    assert field_error(reply.text, "staff_id") == "编号只能包含字母、数字和 _ . : -，不超过64个字符"
    assert field_error(reply.text, "name") == "此项必填"
    reply = post_form(client, "/staff/new", "/staff", {**good, "terminal_user_ids": "8001", "active": "on"})
    assert reply.status_code == 422
    assert "8001" in (field_error(reply.text, "terminal_user_ids") or "")
    assert "'a'" in (field_error(reply.text, "terminal_user_ids") or "")  # whose it is
    reply = post_form(client, "/staff/new", "/staff", {**good, "substitute_staff_id": "ghost"})
    assert reply.status_code == 422
    assert "ghost" in (field_error(reply.text, "substitute_staff_id") or "")
    assert 'value="Zhao"' in reply.text  # what was typed stays
    assert _staff(client, "z1") == {}  # nothing saved
    reply = post_form(client, "/staff/new", "/staff", {**good, "staff_id": "a"})
    assert reply.status_code == 422
    assert field_error(reply.text, "staff_id") == "此职工编号已存在"
    reply = post_form(
        client,
        "/staff/new",
        "/staff",
        {**good, "terminal_user_ids": "9001，9002", "substitute_staff_id": "e", "active": "on"},
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/staff/z1"
    saved = _staff(client, "z1")
    assert saved["terminal_user_ids"] == ["9001", "9002"]
    assert saved["substitute_staff_id"] == "e"
    assert saved["active"] is True
    edit = {**good, "editing": "z1", "name": "Zhao Min", "terminal_user_ids": "9001"}  # 'active' unticked
    assert post_form(client, "/staff/z1", "/staff", edit).status_code == 303
    saved = _staff(client, "z1")
    assert saved["name"] == "Zhao Min"
    assert saved["active"] is False
    assert saved["terminal_user_ids"] == ["9001"]

    reply = post_form(
        client, "/staff/departments/new", "/staff/departments", {"department_id": "d1", "name": "x"}
    )
    assert reply.status_code == 422
    assert field_error(reply.text, "department_id") == "此部门编号已存在"
    reply = post_form(
        client,
        "/staff/departments/d2",
        "/staff/departments",
        {"editing": "d2", "name": "二处", "head_staff_id": "nobody"},
    )
    assert reply.status_code == 422
    assert "nobody" in (field_error(reply.text, "head_staff_id") or "")
    ok = post_form(
        client,
        "/staff/departments/d2",
        "/staff/departments",
        {"editing": "d2", "name": "二处", "head_staff_id": "z1"},
    )
    assert ok.status_code == 303
    listing = client.get("/staff", headers=HTML).text
    assert "Zhao Min" in listing
    assert 'data-sort="text"' in listing
    d2 = client.get("/staff?department=d2", headers=HTML).text
    assert 'data-staff="z1"' in d2
    assert 'data-staff="a"' not in d2


def test_face_enrolment_records_consent_refuses_a_non_image_next_to_the_field_and_stores_nothing(
    office: tuple[TestClient, str],
) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "hr")
    faces = client.app.state.faces  # type: ignore[attr-defined]
    page = "/staff/a"
    refused = post_form(
        client, page, "/staff/a/face/photos", {}, files=[("photos", _photo("people/biden_1.jpg"))]
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "photos") == "尚无本人同意记录，不能登记照片"
    unconfirmed = post_form(client, page, "/staff/a/face/consent", {"evidence": "form 17"})
    assert unconfirmed.status_code == 422
    assert field_error(unconfirmed.text, "confirm") == "请确认已取得本人同意"
    assert faces.store.consent("a") is None
    assert (
        post_form(client, page, "/staff/a/face/consent", {"evidence": "form 17", "confirm": "on"}).status_code
        == 303
    )
    assert "form 17" in client.get(page, headers=HTML).text

    not_an_image = [("photos", ("notes.txt", b"this is not a photo at all", "text/plain"))]
    reply = post_form(client, page, "/staff/a/face/photos", {}, files=not_an_image)
    assert reply.status_code == 422
    message = field_error(reply.text, "photos") or ""
    assert "notes.txt" in message
    assert 'id="f-photos" name="photos"' in reply.text  # next to the upload field
    assert faces.store.encodings_of("a") == []
    mixed = [("photos", _photo("people/biden_1.jpg")), ("photos", _photo("groups/obama_biden.jpg"))]
    reply = post_form(client, page, "/staff/a/face/photos", {}, files=mixed)
    assert reply.status_code == 422
    assert "obama_biden.jpg: 2 faces found" in (field_error(reply.text, "photos") or "")
    reply = post_form(
        client, page, "/staff/a/face/photos", {}, files=[("photos", _photo("nofaces/coffee.png"))]
    )
    assert "no face found" in (field_error(reply.text, "photos") or "")
    assert faces.store.encodings_of("a") == []  # the good photo of the mixed upload was not kept

    assert (
        post_form(
            client, page, "/staff/a/face/photos", {}, files=[("photos", _photo("people/biden_1.jpg"))]
        ).status_code
        == 303
    )
    assert len(faces.store.encodings_of("a")) == 1
    assert 'data-testid="face-encodings">已登记 1 张照片<' in client.get(page, headers=HTML).text
    assert post_form(client, page, "/staff/a/face/delete", {}).status_code == 303
    assert faces.store.encodings_of("a") == []
    assert faces.store.consent("a").active  # deleting the photos keeps the consent
    assert post_form(client, page, "/staff/a/face/delete", {"withdraw": "on"}).status_code == 303
    assert not faces.store.consent("a").active


def test_inspectors_see_the_lists_only_and_staff_not_at_all(office: tuple[TestClient, str]) -> None:
    client, database_url = office
    page_sign_in(client, database_url, "inspector")
    listing = client.get("/staff", headers=HTML)
    assert listing.status_code == 200
    assert 'data-staff="a"' in listing.text
    assert 'href="/staff/a"' not in listing.text
    assert client.get("/staff/a", headers=HTML).status_code == 403
    assert client.get("/staff/new", headers=HTML).status_code == 403
    page_sign_in(client, database_url, "staff", staff_id="a")
    assert client.get("/staff", headers=HTML).status_code == 403
    nav = client.get("/me", headers=HTML).text
    assert 'href="/staff"' not in nav
