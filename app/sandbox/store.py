"""The sandbox cloud's store: one SQLite file holding every resource as a JSON document.

Safe under Terraform's concurrent gRPC calls (one connection guarded by a thread lock) and under
several terraform processes at once (every write is a ``BEGIN IMMEDIATE`` transaction, which takes
SQLite's file lock, with a busy timeout; WAL lets readers proceed meanwhile). Reference attributes
are mirrored into a ``refs`` table so "what uses this subnet" is one indexed query.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sandbox import STORE_ENV
from app.sandbox.rules import references, unique_key

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    attributes TEXT NOT NULL,
    unique_key TEXT UNIQUE,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_type ON resources (type, seq);
CREATE TABLE IF NOT EXISTS refs (
    source_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    target_id TEXT NOT NULL,
    dependency INTEGER NOT NULL,
    PRIMARY KEY (source_id, attribute, target_id)
);
CREATE INDEX IF NOT EXISTS refs_by_target ON refs (target_id);
"""


def default_store_path(data_dir: Path) -> Path:
    """Where the store lives under a Board3 data dir."""
    return Path(data_dir) / "sandbox" / "store.sqlite3"


def store_path_from_env(environ: Mapping[str, str], data_dir: Path) -> Path:
    """``BOARD3_SANDBOX_STORE`` when set, else the data dir's default store."""
    configured = environ.get(STORE_ENV, "").strip()
    return Path(configured).expanduser() if configured else default_store_path(data_dir)


def _owner_only(path: Path) -> None:
    """The store (mode 0600) and its -wal/-shm files, which SQLite creates with the store's mode."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


class StoreError(Exception):
    """The store refused an operation; the message is meant for a person."""


class RecordNotFound(StoreError):
    def __init__(self, resource_id: str) -> None:
        super().__init__(f"resource {resource_id} does not exist")
        self.resource_id = resource_id


class UniqueViolation(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is already taken")
        self.key = key


class VersionConflict(StoreError):
    def __init__(self, resource_id: str, expected: int, actual: int) -> None:
        super().__init__(f"resource {resource_id} is at version {actual}, not {expected}")
        self.resource_id, self.expected, self.actual = resource_id, expected, actual


@dataclass(frozen=True)
class Record:
    """One stored resource. ``attributes`` excludes ``id``; ``version`` counts writes."""

    seq: int
    id: str
    type: str
    attributes: dict[str, Any]
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Record:
        return cls(
            seq=row["seq"],
            id=row["id"],
            type=row["type"],
            attributes=json.loads(row["attributes"]),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dump(attributes: Mapping[str, Any]) -> str:
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"))


class Transaction:
    """Reads and writes inside one ``BEGIN IMMEDIATE`` transaction (see ``SandboxStore.transaction``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, resource_id: str) -> Record | None:
        row = self._conn.execute("SELECT * FROM resources WHERE id = ?", (resource_id,)).fetchone()
        return Record.from_row(row) if row else None

    def resources(
        self, type_name: str | None = None, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Resources in creation order, optionally of one type, after ``after_seq``."""
        rows = self._conn.execute(
            "SELECT * FROM resources WHERE seq > ? AND (? IS NULL OR type = ?) ORDER BY seq LIMIT ?",
            (after_seq, type_name, type_name, -1 if limit is None else limit),
        )
        return [Record.from_row(r) for r in rows]

    def referrers(
        self, target_id: str, *, type_name: str | None = None, dependencies_only: bool = False
    ) -> list[Record]:
        """Resources whose reference attributes hold ``target_id``."""
        rows = self._conn.execute(
            "SELECT * FROM resources WHERE id IN ("
            "  SELECT source_id FROM refs WHERE target_id = ? AND (? = 0 OR dependency = 1))"
            " AND (? IS NULL OR type = ?) ORDER BY seq",
            (target_id, int(dependencies_only), type_name, type_name),
        )
        return [Record.from_row(r) for r in rows]

    def insert(self, resource_id: str, type_name: str, attributes: Mapping[str, Any]) -> Record:
        now = _now()
        key = unique_key(type_name, attributes)
        try:
            row = self._conn.execute(
                "INSERT INTO resources (id, type, attributes, unique_key, version, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING *",
                (resource_id, type_name, _dump(attributes), key, now, now),
            ).fetchone()
        except sqlite3.IntegrityError:
            raise UniqueViolation(key or resource_id) from None
        self._write_refs(resource_id, type_name, attributes)
        return Record.from_row(row)

    def update(
        self, resource_id: str, attributes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Record:
        """Replace the attributes of a resource; refuse if it moved past ``expected_version``."""
        current = self.get(resource_id)
        if current is None:
            raise RecordNotFound(resource_id)
        if expected_version is not None and expected_version != current.version:
            raise VersionConflict(resource_id, expected_version, current.version)
        key = unique_key(current.type, attributes)
        try:
            row = self._conn.execute(
                "UPDATE resources SET attributes = ?, unique_key = ?, version = version + 1, updated_at = ?"
                " WHERE id = ? RETURNING *",
                (_dump(attributes), key, _now(), resource_id),
            ).fetchone()
        except sqlite3.IntegrityError:
            raise UniqueViolation(key or resource_id) from None
        self._write_refs(resource_id, current.type, attributes)
        return Record.from_row(row)

    def delete(self, resource_id: str) -> bool:
        self._conn.execute("DELETE FROM refs WHERE source_id = ?", (resource_id,))
        return self._conn.execute("DELETE FROM resources WHERE id = ?", (resource_id,)).rowcount > 0

    def _write_refs(self, resource_id: str, type_name: str, attrs: Mapping[str, Any]) -> None:
        self._conn.execute("DELETE FROM refs WHERE source_id = ?", (resource_id,))
        self._conn.executemany(
            "INSERT INTO refs (source_id, attribute, target_id, dependency) VALUES (?, ?, ?, ?)",
            [(resource_id, attr, target, int(dep)) for attr, target, dep in references(type_name, attrs)],
        )


class SandboxStore:
    """The store file at ``path`` (created on first use). Thread-safe; share one per process."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _owner_only(self.path)
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row  # Record.from_row reads columns by name
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    # Idempotent DDL under the write lock: two processes may both get here.
                    conn.executescript(
                        f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                    )
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction: commits on success, rolls back on any exception."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # Reads outside a transaction are one SELECT each, which SQLite runs on one snapshot without
    # taking the write lock: no BEGIN needed.

    def get(self, resource_id: str) -> Record | None:
        with self._lock:
            return Transaction(self._connect()).get(resource_id)

    def resources(
        self, type_name: str | None = None, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Record]:
        with self._lock:
            return Transaction(self._connect()).resources(type_name, after_seq=after_seq, limit=limit)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
