"""Durable store-and-forward queue of the edge, in SQLite.

An event is written here before anything tries to publish it, and deleted only when the server's
acknowledgement for its id arrives. The per-terminal read cursor lives in the same database and
is advanced in the same transaction as the events it covers, so a crash can neither skip a record
(cursor ahead of the outbox) nor emit one twice (outbox ahead of the cursor).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    last_sent_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (last_sent_at, seq);
CREATE TABLE IF NOT EXISTS read_cursors (
    device TEXT PRIMARY KEY,
    next_index INTEGER NOT NULL,
    last_event_id TEXT,
    updated_at REAL NOT NULL,
    read_at TEXT
);
CREATE TABLE IF NOT EXISTS seen_records (
    device TEXT NOT NULL,
    event_id TEXT NOT NULL,
    first_seen_at REAL NOT NULL,
    PRIMARY KEY (device, event_id)
);
CREATE TABLE IF NOT EXISTS device_facts (
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (device, name)
);
"""


@dataclass(frozen=True)
class OutboxMessage:
    """One event ready to publish: its id, topic and encoded payload."""

    event_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True)
class ReadCursor:
    """How far a terminal's log has been turned into events: the next log index and the last id."""

    next_index: int = 0
    last_event_id: str | None = None
    # When the edge last read the whole log (aware, ISO 8601): a record dated well before it
    # was not in the log then, so it was inserted later or the clock was set back.
    read_at: str | None = None


class Outbox:
    """The SQLite outbox; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared under a lock: SQLite serialises writers anyway, and the edge's
        # write rate (a few events a second, bursts of a log read) is far below its limits.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an event in the outbox survives power loss
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(read_cursors)")}
        if "read_at" not in columns:  # an outbox written before read times were kept
            self._db.execute("ALTER TABLE read_cursors ADD COLUMN read_at TEXT")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction (one fsync) for a whole batch: in autocommit mode ``executemany``
        would commit, and with synchronous=FULL fsync, once per row (measured: ~0.4 ms a row)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add(
        self,
        messages: Iterable[OutboxMessage],
        *,
        cursor: tuple[str, ReadCursor] | None = None,
        seen: tuple[str, Sequence[str]] | None = None,
    ) -> int:
        """Store messages (ignoring ids already queued), optionally advance a read cursor and remember
        terminal record ids as seen, all in one transaction. Returns how many messages were new.
        """
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (event_id, topic, payload, created_at) VALUES (?, ?, ?, ?)",
                    [(m.event_id, m.topic, m.payload, now) for m in messages],
                )
                added = self._db.total_changes - before
                if seen is not None:
                    device, ids = seen
                    self._db.executemany(
                        "INSERT OR IGNORE INTO seen_records (device, event_id, first_seen_at) VALUES (?, ?, ?)",
                        [(device, event_id, now) for event_id in ids],
                    )
                if cursor is not None:
                    device, position = cursor
                    self._db.execute(
                        "INSERT INTO read_cursors (device, next_index, last_event_id, updated_at, read_at) "
                        "VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (device) DO UPDATE SET next_index = excluded.next_index, "
                        "last_event_id = excluded.last_event_id, updated_at = excluded.updated_at, "
                        "read_at = COALESCE(excluded.read_at, read_cursors.read_at)",
                        (device, position.next_index, position.last_event_id, now, position.read_at),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def cursor(self, device: str) -> ReadCursor:
        """The persisted read cursor of a terminal (the start of its log if none)."""
        with self._lock:
            row = self._db.execute(
                "SELECT next_index, last_event_id, read_at FROM read_cursors WHERE device = ?", (device,)
            ).fetchone()
        return ReadCursor(row[0], row[1], row[2]) if row else ReadCursor()

    def seen_ids(self, device: str) -> set[str]:
        """Ids of every record of ``device`` ever queued (so a re-read never queues one twice)."""
        with self._lock:
            rows = self._db.execute("SELECT event_id FROM seen_records WHERE device = ?", (device,))
            return {row[0] for row in rows}

    def forget_seen(self, device: str, *, still_on_device: Iterable[str], seen_before: float) -> int:
        """Forget ids first seen before ``seen_before`` (epoch seconds) that the device no longer
        holds: they can never be read again, so remembering them only grows the file."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("CREATE TEMP TABLE IF NOT EXISTS on_device (event_id TEXT PRIMARY KEY)")
                self._db.execute("DELETE FROM on_device")
                self._db.executemany(
                    "INSERT OR IGNORE INTO on_device VALUES (?)", ((i,) for i in still_on_device)
                )
                forgotten = self._db.execute(
                    "DELETE FROM seen_records WHERE device = ? AND first_seen_at < ? "
                    "AND event_id NOT IN (SELECT event_id FROM on_device)",
                    (device, seen_before),
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(forgotten)

    def pending_on(self, topic: str) -> int:
        """How many events on ``topic`` still wait for the server's acknowledgement."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE topic = ?", (topic,)).fetchone()
        return int(count)

    def fact(self, device: str, name: str) -> str | None:
        """A remembered fact about a device (e.g. the address it was last found at)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM device_facts WHERE device = ? AND name = ?", (device, name)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_fact(self, device: str, name: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO device_facts (device, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (device, name) DO UPDATE SET value = excluded.value",
                (device, name, value),
            )

    def due(self, *, resend_after: float, limit: int, max_unacked: int) -> list[OutboxMessage]:
        """Messages to publish now: never sent, or sent longer than ``resend_after`` seconds ago
        without an acknowledgement; at most ``limit``, and never more than ``max_unacked`` in flight."""
        now = time.time()
        with self._lock:
            (in_flight,) = self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE last_sent_at IS NOT NULL AND last_sent_at > ?",
                (now - resend_after,),
            ).fetchone()
            room = min(limit, max_unacked - in_flight)
            if room <= 0:
                return []
            rows = self._db.execute(
                "SELECT event_id, topic, payload FROM outbox "
                "WHERE last_sent_at IS NULL OR last_sent_at <= ? ORDER BY seq LIMIT ?",
                (now - resend_after, room),
            ).fetchall()
        return [OutboxMessage(r[0], r[1], bytes(r[2])) for r in rows]

    def mark_sent(self, event_ids: Sequence[str]) -> int:
        """Record that ``event_ids`` were published now; returns how many of them were resends."""
        now = time.time()
        resent = 0
        with self._lock, self._transaction():
            for start in range(0, len(event_ids), 500):  # below SQLite's limit of bound parameters
                chunk = event_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                (count,) = self._db.execute(
                    f"SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND event_id IN ({marks})", chunk
                ).fetchone()
                resent += int(count)
            self._db.executemany(
                "UPDATE outbox SET last_sent_at = ?, attempts = attempts + 1 WHERE event_id = ?",
                [(now, e) for e in event_ids],
            )
        return resent

    def mark_all_unsent(self) -> None:
        """After a reconnect: whatever was in flight may be lost with the old connection; resend it now."""
        with self._lock:
            self._db.execute("UPDATE outbox SET last_sent_at = NULL WHERE last_sent_at IS NOT NULL")

    def remove(self, event_ids: Sequence[str]) -> int:
        """Forget acknowledged events; returns how many were still queued."""
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM outbox WHERE event_id = ?", [(e,) for e in event_ids])
            return self._db.total_changes - before

    def rewrite_older(self, created_before: float, rewrite: Callable[[str, bytes], bytes | None]) -> int:
        """Replace the payload of queued events created before ``created_before`` with what
        ``rewrite(topic, payload)`` returns (None leaves it as it is); returns how many changed.
        The event id stays: it is derived from the event's content, not its payload bytes."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE created_at < ?", (created_before,)
            ).fetchall()
            changed = [
                (new, seq) for seq, topic, payload in rows if (new := rewrite(topic, payload)) is not None
            ]
            if changed:
                with self._transaction():
                    self._db.executemany("UPDATE outbox SET payload = ? WHERE seq = ?", changed)
        return len(changed)

    def depth(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def oldest_age_seconds(self) -> float | None:
        with self._lock:
            (oldest,) = self._db.execute("SELECT MIN(created_at) FROM outbox").fetchone()
        return None if oldest is None else max(0.0, time.time() - oldest)
