"""Test session: a fresh PostgreSQL database built from the real migrations and a Redis key prefix
of its own, both removed at the end; nothing else on the servers is touched.

``BOARD3_TEST_BACKEND=sqlite`` runs the same in-process API tests in embedded mode (SQLite in a
temporary data dir, memory stores). Tests isolate themselves by creating their own users and
organizations (unique emails and slugs), so no truncation is needed between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

# The suite runs in several processes beside terraform and real servers on two cores: how long
# one generated example takes says nothing about the property a test checks.
settings.register_profile("board3", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("board3")

BACKEND = os.environ.get("BOARD3_TEST_BACKEND", "postgres")
RUN_ID = uuid.uuid4().hex[:10]
ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DB_NAME = f"board3_test_{RUN_ID}"
REDIS_PREFIX = f"b3t{RUN_ID}"
_DATA_DIR = tempfile.mkdtemp(prefix=f"board3-test-{RUN_ID}-")


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn=ADMIN_DATABASE_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _coordinator(config: pytest.Config) -> bool:
    """The process that only hands tests to ``pytest -n`` workers: it runs none itself, so it needs
    no database (each worker makes its own, with its own key prefix and data dir)."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _coordinator(config):
        return
    os.environ.update(
        {
            "BOARD3_DATA_DIR": _DATA_DIR,
            "BOARD3_JWT_SECRET": "test-secret-" + "x" * 40,
            "BOARD3_RATE_LIMIT_AUTH": "100000",
            "BOARD3_RATE_LIMIT_AUTH_ADDRESS": "100000",
            "BOARD3_RATE_LIMIT_AUTH_ACCOUNT": "100000",
            "BOARD3_RATE_LIMIT_API": "100000",
            "BOARD3_LOG_LEVEL": "WARNING",
            "BOARD3_REDIS_PREFIX": REDIS_PREFIX,
            "BOARD3_SANDBOX": "true",
            # The in-process app runs no executions (there is no HTTP server for terraform to reach);
            # pipeline tests that run terraform start real servers and workers.
            "BOARD3_WORKERS_IN_PROCESS": "false",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if BACKEND == "postgres":
        try:
            asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
        except Exception as exc:
            pytest.exit(
                f"cannot create the test database through {ADMIN_DATABASE_URL}: {exc}. "
                "Is PostgreSQL running? Set TEST_DATABASE_URL, or run scripts/test, which starts the "
                "local service.",
                returncode=3,
            )
        os.environ["DATABASE_URL"] = _database_url(DB_NAME)
        os.environ["REDIS_URL"] = TEST_REDIS_URL
    from app.config import reset_settings

    reset_settings()
    from app.db.migrate import migrate

    asyncio.run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _coordinator(config):
        shutil.rmtree(_DATA_DIR, ignore_errors=True)
        return
    if BACKEND == "postgres" and os.environ.get("DATABASE_URL", "").endswith(DB_NAME):
        try:
            asyncio.run(
                _admin(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{DB_NAME}' AND pid <> pg_backend_pid()"
                )
            )
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        except Exception as exc:
            print(f"warning: could not drop test database {DB_NAME}: {exc}")
    # Some tests use Redis directly in either mode; everything they write is under REDIS_PREFIX,
    # and SAQ names its keys after the queue (``saq:job:<prefix>:jobs:<id>``).
    asyncio.run(_clear_redis())
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


async def _clear_redis() -> None:
    from tests.support.cleanup import clear_redis

    try:
        await clear_redis(TEST_REDIS_URL, REDIS_PREFIX)
    except Exception as exc:
        print(f"warning: could not clear test keys from Redis: {exc}")


@pytest.fixture(scope="session")
def data_dir() -> str:
    return _DATA_DIR


@pytest.fixture(scope="session")
def app():
    from app.main import create_app

    return create_app()


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator:
    """One in-process client for the session: requests go through the whole ASGI app.

    The app's lifespan runs in the test event loop (Litestar's AsyncTestClient would run it in a
    portal thread with a loop of its own, and the database pool would then belong to that loop,
    so tests could not query the database directly). Responses are buffered: stream with
    ``live_server()``.
    """
    import httpx

    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # Enter and exit the lifespan in one task: it holds anyio cancel scopes.
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c
    stop.set()
    await task


@pytest.fixture(scope="session")
async def api(client):
    from tests.support.api import Api

    return Api(client)


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """The environment a `board3 serve` subprocess needs to share this test run's database."""
    from tests.support.server import session_env

    return session_env() | {"BOARD3_LOG_LEVEL": "INFO"}


@pytest.fixture
def live_server(live_server_env) -> Iterator:
    """Start `board3 serve` processes on free loopback ports; all are stopped after the test."""
    from tests.support.server import LiveServer

    servers: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        server = LiveServer(live_server_env | env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
        server.log_path.unlink(missing_ok=True)


@pytest.fixture
def redis_server() -> Iterator:
    """A redis-server of the test's own on a free port, started; killed after the test."""
    from tests.support.redis_server import RedisServer

    server = RedisServer()
    server.start()
    yield server
    server.kill()
