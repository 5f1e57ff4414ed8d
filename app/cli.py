"""The ``board3`` command: serve, migrate, seed (and the domain command groups, and the demo)."""

from __future__ import annotations

import sys

import click

from app.config import ConfigError, get_settings


@click.group()
def main() -> None:
    """Board3: infrastructure-as-code designer backend."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    from app.lib import logging as app_logging

    app_logging.configure(settings.server.log_level)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default BOARD3_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default BOARD3_PORT or 8000).")
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes (uvicorn workers).")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (run `board3 migrate` first)."""
    import os

    import uvicorn

    from app.config import reset_settings

    # The app reads its own address from the settings (an embedded server's runs reach its state
    # backend there): options given here must be the settings every server process sees.
    if host is not None:
        os.environ["BOARD3_HOST"] = host
    if port is not None:
        os.environ["BOARD3_PORT"] = str(port)
    reset_settings()
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=bool(settings.server.trusted_proxies),
        forwarded_allow_ips=",".join(settings.server.trusted_proxies) or None,
        timeout_graceful_shutdown=10,
        # Longer than load balancers' usual 60 s idle timeout, so the balancer (or terraform's own
        # connection pool) never reuses a connection at the moment the server closes it.
        timeout_keep_alive=settings.server.keepalive_timeout,
    )


@main.command()
@click.option(
    "--concurrency",
    default=None,
    type=click.IntRange(1, 64),
    help="Executions at once (default BOARD3_WORKER_CONCURRENCY).",
)
def worker(concurrency: int | None) -> None:
    """Run pipeline executions taken from the job queue (production mode: needs REDIS_URL).

    Start as many as you like, on as many machines: each execution is leased by one worker at a
    time, and a worker that dies is found by the others' sweeper. Stop with SIGTERM.
    """
    import asyncio
    import dataclasses

    from app.worker.process import serve as serve_worker

    settings = get_settings()
    if settings.redis.url is None:
        raise click.ClickException("board3 worker needs REDIS_URL; an embedded server runs executions itself")
    if concurrency is not None:
        settings = dataclasses.replace(
            settings, worker=dataclasses.replace(settings.worker, concurrency=concurrency)
        )
    asyncio.run(serve_worker(settings))


@main.command()
def migrate() -> None:
    """Apply database migrations (idempotent; safe to run from several processes)."""
    from app.db import run_with_database
    from app.db.migrate import migrate as run_migrate

    run_with_database(run_migrate)
    click.echo("database is up to date", err=True)


@main.command()
def seed() -> None:
    """Load seed data: permissions, built-in roles, templates (idempotent)."""
    from app.db import run_with_database
    from app.db.migrate import exclusive
    from app.db.seed import run_seeds

    async def go() -> None:
        async with exclusive():
            await run_seeds()

    run_with_database(go)
    click.echo("seed data loaded", err=True)


def _add_domain_groups() -> None:
    """Domain command groups live with their domains; the one CLI root attaches them."""
    from app.drift.cli import demo
    from app.sandbox.cli import sandbox
    from app.states.cli import keys
    from app.terraform.cli import catalog

    main.add_command(sandbox)
    main.add_command(catalog)
    main.add_command(keys)
    main.add_command(demo)


_add_domain_groups()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
