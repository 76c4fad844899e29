"""The audit log's hash chain: how an entry is hashed and how a stored chain is checked.

Each entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the entry
*including the previous entry's hash*, so editing, deleting or inserting a row breaks every hash
from there on. The first entry links to :data:`GENESIS_HASH`. The head (the last seq and hash,
kept beside the log) catches rows removed or added at the end.

Anyone who can write the database *and* recompute the chain can forge a consistent one; recording
the head printed by ``kaoqin audit verify`` somewhere else (a ticket, a signed report) detects that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """What happened, before it has a place in the chain."""

    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def canonical_time(at: datetime) -> str:
    """The instant as hashed: UTC, microseconds, so every database gives back the same text."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(seq: int, record: AuditRecord, prev_hash: str) -> str:
    body = {
        "seq": seq,
        "at": canonical_time(record.at),
        "actor": record.actor,
        "action": record.action,
        "target": record.target,
        "details": record.details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def chain_next(record: AuditRecord, head_seq: int, head_hash: str) -> AuditEntry:
    """The entry that follows the head (seq 0 and :data:`GENESIS_HASH` for an empty log)."""
    seq = head_seq + 1
    return AuditEntry(
        seq=seq,
        at=record.at,
        actor=record.actor,
        action=record.action,
        target=record.target,
        details=record.details,
        prev_hash=head_hash,
        hash=entry_hash(seq, record, head_hash),
    )


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def verify_chain(entries: Iterable[AuditEntry], head: tuple[int, str] | None) -> ChainReport:
    """Check ``entries`` (in seq order) link up from genesis and end at ``head`` (seq, hash).

    Reports the first seq where the chain breaks: a row whose content no longer matches its hash
    (edited), a seq that is missing (deleted) or that should not be there (inserted), a link to
    the wrong previous hash, or a last row that is not the recorded head.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in entries:
        if entry.seq != expected_seq:
            problem = (
                f"seq {expected_seq} is missing (next row is seq {entry.seq})"
                if entry.seq > expected_seq
                else f"seq {entry.seq} appears where seq {expected_seq} was expected"
            )
            return ChainReport(count, expected_seq - 1, prev_hash, min(entry.seq, expected_seq), problem)
        if entry.prev_hash != prev_hash:
            return ChainReport(count, entry.seq - 1, prev_hash, entry.seq, "links to the wrong previous hash")
        record = AuditRecord(entry.at, entry.actor, entry.action, entry.target, entry.details)
        if entry_hash(entry.seq, record, entry.prev_hash) != entry.hash:
            return ChainReport(count, entry.seq - 1, prev_hash, entry.seq, "content does not match its hash")
        count += 1
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    last_seq = expected_seq - 1
    head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
    if head_seq > last_seq:
        return ChainReport(
            count, last_seq, prev_hash, last_seq + 1, f"rows after seq {last_seq} were removed"
        )
    if head_seq < last_seq:
        return ChainReport(
            count,
            last_seq,
            prev_hash,
            head_seq + 1,
            f"rows after the recorded head (seq {head_seq}) were added",
        )
    if head_hash != prev_hash:
        return ChainReport(count, last_seq, prev_hash, last_seq, "does not match the recorded head hash")
    return ChainReport(count, last_seq, prev_hash)
