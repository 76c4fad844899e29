"""The audit hash chain as pure logic: any edit, removal or insertion is found at its seq."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from server.domain.audit_chain import GENESIS_HASH, AuditEntry, AuditRecord, chain_next, verify_chain

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    head = (0, GENESIS_HASH)
    for i in range(n):
        record = AuditRecord(
            T0 + timedelta(seconds=i), "hr-li", "put_staff", f"/api/v1/staff/s-{i}", {"n": i}
        )
        entry = chain_next(record, *head)
        entries.append(entry)
        head = (entry.seq, entry.hash)
    return entries


def test_an_intact_chain_verifies_with_its_count_and_head() -> None:
    entries = _chain(5)
    report = verify_chain(entries, (5, entries[-1].hash))
    assert report.intact
    assert (report.count, report.head_seq) == (5, 5)
    assert verify_chain([], None).intact


def test_an_edited_entry_breaks_at_its_seq() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], details={"n": 99})
    report = verify_chain(entries, (5, entries[-1].hash))
    assert (report.broken_seq, report.count) == (3, 2)
    assert "does not match its hash" in (report.problem or "")


def test_a_deleted_entry_breaks_where_it_is_missing() -> None:
    entries = _chain(5)
    del entries[1]
    assert verify_chain(entries, (5, entries[-1].hash)).broken_seq == 2


def test_a_removed_tail_or_an_appended_forgery_is_caught_by_the_head() -> None:
    entries = _chain(5)
    truncated = verify_chain(entries[:4], (5, entries[-1].hash))
    assert truncated.broken_seq == 5
    forged = chain_next(AuditRecord(T0, "someone", "x", "y", {}), 5, entries[-1].hash)
    appended = verify_chain([*entries, forged], (5, entries[-1].hash))
    assert appended.broken_seq == 6


def test_a_time_is_hashed_as_the_same_instant_in_any_zone() -> None:
    entry = _chain(1)[0]
    shifted = replace(entry, at=entry.at.astimezone(ZoneInfo("Asia/Shanghai")))
    assert verify_chain([shifted], (1, entry.hash)).intact
