"""The SQLite store: records, references, constraints, and no lost writes under threads and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from app.sandbox import STORE_ENV
from app.sandbox.store import (
    RecordNotFound,
    SandboxStore,
    UniqueViolation,
    VersionConflict,
    default_store_path,
    store_path_from_env,
)


def test_store_path_comes_from_env_or_data_dir(tmp_path: Path) -> None:
    assert default_store_path(tmp_path) == tmp_path / "sandbox" / "store.sqlite3"
    assert store_path_from_env({}, tmp_path) == tmp_path / "sandbox" / "store.sqlite3"
    assert store_path_from_env({STORE_ENV: "/x/y.db"}, tmp_path) == Path("/x/y.db")


def test_insert_get_update_delete_round_trip(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path / "nested" / "store.sqlite3")
    with store.transaction() as tx:
        created = tx.insert("net-1", "sandbox_network", {"cidr_block": "10.0.0.0/16", "tags": None})
    assert created.version == 1 and created.created_at == created.updated_at
    assert store.get("net-1") == created
    with store.transaction() as tx:
        updated = tx.update("net-1", {"cidr_block": "10.0.0.0/16", "tags": {"a": "b"}})
    assert updated.version == 2 and updated.attributes["tags"] == {"a": "b"}
    assert updated.updated_at > created.updated_at
    with store.transaction() as tx:
        assert tx.delete("net-1") is True
        assert tx.delete("net-1") is False
    assert store.get("net-1") is None
    store.close()


def test_the_store_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sandbox" / "store.sqlite3"
    store = SandboxStore(path)
    with store.transaction() as tx:
        tx.insert("net-1", "sandbox_network", {"cidr_block": "10.0.0.0/16"})
    for file in (path, path.with_name("store.sqlite3-wal"), path.with_name("store.sqlite3-shm")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    store.close()
    path.chmod(0o644)  # a store made before stores were private is fixed when next opened
    reopened = SandboxStore(path)
    assert reopened.get("net-1") is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened.close()


def test_listing_filters_by_type_and_pages_in_creation_order(store: SandboxStore) -> None:
    with store.transaction() as tx:
        for n in range(5):
            tx.insert(f"bkt-{n}", "sandbox_bucket", {"name": f"b{n}"})
        tx.insert("net-1", "sandbox_network", {"cidr_block": "10.0.0.0/16"})
    assert [r.id for r in store.resources("sandbox_network")] == ["net-1"]
    first = store.resources("sandbox_bucket", limit=2)
    rest = store.resources("sandbox_bucket", after_seq=first[-1].seq)
    assert [r.id for r in first + rest] == [f"bkt-{n}" for n in range(5)]


def test_bucket_names_are_unique_across_the_store(store: SandboxStore) -> None:
    with store.transaction() as tx:
        tx.insert("bkt-1", "sandbox_bucket", {"name": "logs"})
        tx.insert("bkt-2", "sandbox_bucket", {"name": "other"})
    with pytest.raises(UniqueViolation), store.transaction() as tx:
        tx.insert("bkt-3", "sandbox_bucket", {"name": "logs"})
    with pytest.raises(UniqueViolation), store.transaction() as tx:
        tx.update("bkt-2", {"name": "logs"})
    assert [r.id for r in store.resources()] == ["bkt-1", "bkt-2"]


def test_failed_transaction_rolls_back_everything(store: SandboxStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert("net-1", "sandbox_network", {"cidr_block": "10.0.0.0/16"})
        raise RuntimeError("boom")
    assert store.resources() == []


def test_update_checks_existence_and_expected_version(store: SandboxStore) -> None:
    with pytest.raises(RecordNotFound), store.transaction() as tx:
        tx.update("nope", {})
    with store.transaction() as tx:
        tx.insert("net-1", "sandbox_network", {"cidr_block": "10.0.0.0/16"})
        tx.update("net-1", {"cidr_block": "10.0.0.0/16"}, expected_version=1)
    with pytest.raises(VersionConflict) as caught, store.transaction() as tx:
        tx.update("net-1", {"cidr_block": "10.1.0.0/16"}, expected_version=1)
    assert caught.value.actual == 2
    assert store.get("net-1").attributes["cidr_block"] == "10.0.0.0/16"  # type: ignore[union-attr]


def test_references_are_tracked_and_follow_updates(store: SandboxStore) -> None:
    with store.transaction() as tx:
        tx.insert("net-1", "sandbox_network", {})
        tx.insert("subnet-1", "sandbox_subnet", {"network_id": "net-1"})
        tx.insert("sg-1", "sandbox_security_group", {"network_id": "net-1"})
        tx.insert("i-1", "sandbox_instance", {"subnet_id": "subnet-1", "security_group_ids": ["sg-1"]})
        assert [r.id for r in tx.referrers("net-1")] == ["subnet-1", "sg-1"]
        assert [r.id for r in tx.referrers("net-1", type_name="sandbox_subnet")] == ["subnet-1"]
        assert [r.id for r in tx.referrers("sg-1")] == ["i-1"]
        assert tx.referrers("sg-1", dependencies_only=True) == []  # attachments do not block deletion
        tx.update("i-1", {"subnet_id": "subnet-1", "security_group_ids": []})
        assert tx.referrers("sg-1") == []
        tx.delete("i-1")
        assert tx.referrers("subnet-1") == []


def test_threads_sharing_one_store_lose_no_update(store: SandboxStore) -> None:
    with store.transaction() as tx:
        tx.insert("counter", "sandbox_network", {"n": 0})

    def bump() -> None:
        for _ in range(50):
            with store.transaction() as tx:
                record = tx.get("counter")
                assert record is not None
                tx.update("counter", {"n": record.attributes["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = store.get("counter")
    assert record is not None and record.attributes["n"] == 400 and record.version == 401


def _bump_in_process(path: str, rounds: int) -> None:
    store = SandboxStore(path)
    for _ in range(rounds):
        with store.transaction() as tx:
            record = tx.get("counter")
            assert record is not None
            tx.update("counter", {"n": record.attributes["n"] + 1})
    store.close()


def test_processes_sharing_one_file_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    store = SandboxStore(path)
    with store.transaction() as tx:
        tx.insert("counter", "sandbox_network", {"n": 0})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump_in_process, args=(str(path), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    record = store.get("counter")
    assert record is not None and record.attributes["n"] == 160
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.close()
