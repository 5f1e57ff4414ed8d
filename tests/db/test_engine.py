"""The embedded database file: WAL mode, and readable by its owner only (it holds password hashes
and encrypted states), its -wal and -shm files included."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from app.db.engine import prepare_sqlite_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "board3.sqlite3"
    prepare_sqlite_file(str(path))
    with sqlite3.connect(path) as conn:  # as the server does: WAL, a write, the connection open
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        for file in (path, tmp_path / "board3.sqlite3-wal", tmp_path / "board3.sqlite3-shm"):
            assert _mode(file) == 0o600, file


def test_an_older_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "board3.sqlite3"
    sqlite3.connect(path).close()
    wal = tmp_path / "board3.sqlite3-wal"
    wal.write_bytes(b"")
    for file in (path, wal):
        file.chmod(0o644)
    prepare_sqlite_file(str(path))
    assert _mode(path) == 0o600 and _mode(wal) == 0o600
