"""One running Board3 for the pipeline tests of a module: a server and two workers on PostgreSQL
and Redis (or, in the embedded pass, one server that runs executions itself), sharing this test
run's database, key prefix and data dir (so the sandbox provider and its store are shared too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipelines.support import Stack, stack
from tests.support.server import session_env

# Short enough for tests to see a lost worker and a force-cancel quickly.
PIPELINE_ENV = {
    "BOARD3_LOG_LEVEL": "INFO",
    "BOARD3_SANDBOX": "true",
    "BOARD3_CANCEL_COOL_OFF": "1",
    "BOARD3_WORKER_LEASE_SECONDS": "4",
    "BOARD3_WORKER_CONCURRENCY": "2",
}


def stack_env(**extra: str) -> dict[str, str]:
    return session_env() | PIPELINE_ENV | extra


@pytest.fixture(scope="module")
def running() -> Iterator[Stack]:
    with stack(stack_env(), workers=2) as s:
        yield s
