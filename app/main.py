"""The composition root: ``create_app()`` wires settings, stores, services, routes and middleware.

Nothing else builds the application. The same code serves both run modes; factories pick SQLite or
PostgreSQL, memory or Redis from the settings.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag

import app.db  # noqa: F401  (points Piccolo at app.db.piccolo_conf before any table is used)
from app.accounts.auth_service import AuthService, RunTokens
from app.accounts.controller import (
    AuthController,
    OrganizationController,
    list_permissions,
    provide_principal,
)
from app.accounts.middleware import AuthMiddleware
from app.activity.controller import AuditController
from app.config import Settings, get_settings
from app.console.errors import with_console_pages
from app.console.routes import CONSOLE_PATH, console_routers
from app.db import engine as db_engine
from app.db import get_engine
from app.db.migrate import ensure_migrated, exclusive
from app.db.seed import run_seeds
from app.designs.collab_controller import CollaborationController, TemplateController
from app.designs.controller import DesignController, make_design_deps
from app.designs.terraform_controller import DesignTerraformController
from app.drift import reads as drift_reads
from app.drift.controller import DriftController
from app.lib import crypto
from app.lib import logging as app_logging
from app.lib import runtime as runtime_binding
from app.lib.bodies import BodyBudget
from app.lib.gate import make_gate
from app.lib.health import HealthController, MetricsController
from app.lib.middleware import RequestObserver
from app.lib.openapi import SCHEMA_PATH, asset_routers, document_responses, render_plugins
from app.lib.options import repair_allow
from app.lib.problem import EXCEPTION_HANDLERS
from app.lib.redis import make_redis
from app.lib.runtime import Runtime, RuntimeBinding, freeze_startup_heap
from app.lib.schema import refuse_nul
from app.lib.secrets import jwt_secret
from app.lib.stores import make_channels_plugin, make_store_registry
from app.lib.windows import make_windows
from app.notifications.controller import NotificationController
from app.notifications.invitation_controller import InvitationController
from app.notifications.mail import make_mailer
from app.notifications.subscribers import SUBSCRIBERS
from app.notifications.webhook_controller import WebhookController
from app.pipelines import tokens as run_tokens
from app.pipelines.controller import PipelineController
from app.sandbox.controller import SandboxController, provide_sandbox_store
from app.states.controller import StatesController
from app.states.keys import KeyCheckFailed, check_keyring
from app.states.protocol import TerraformBackendController, TerraformMethods
from app.terraform.catalog import get_catalog
from app.terraform.controller import CatalogController
from app.terraform.health import terraform_check
from app.worker.process import make_in_process_worker, workers_check
from app.worker.queue import SaqQueue, make_queue

log = logging.getLogger("board3")

VERSION = "0.1.0"

PUBLIC_PATHS = ["^/health", "^/metrics", "^/schema"]


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Board3 API",
        version=VERSION,
        description=(
            "Infrastructure-as-code designer backend: versioned designs, Terraform generation, "
            "an encrypted Terraform HTTP state backend, pipelines and drift checks. Errors are "
            "`application/problem+json` (RFC 9457). Lists are paginated with `limit` and an opaque "
            "`cursor`."
        ),
        path=SCHEMA_PATH,
        render_plugins=render_plugins(),
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http", scheme="bearer", description="A JWT access token or an API key (`b3k_...`)"
                ),
                "BasicAuth": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="Terraform backend only: any user name, an API key as the password",
                ),
            }
        ),
        security=[{"BearerToken": []}],
        tags=[
            Tag(name="auth", description="Accounts, tokens and sessions"),
            Tag(name="organizations", description="Organizations, members, roles and API keys"),
            Tag(name="audit", description="The append-only audit log"),
            Tag(name="designs", description="Designs, immutable versions, diff, resources, live events"),
            Tag(name="templates", description="The template catalogue and organization templates"),
            Tag(name="collaboration", description="Shares and comments on designs"),
            Tag(name="health", description="Liveness, readiness and metrics"),
            Tag(name="states", description="Terraform states: versions, locks, outputs, restore"),
            Tag(
                name="terraform-backend",
                description='Terraform/OpenTofu `backend "http"` protocol: basic auth with an API key',
            ),
            Tag(
                name="terraform",
                description="Validate designs, export Terraform (JSON, HCL, zip), diagrams, import",
            ),
            Tag(name="sandbox", description="The offline sandbox cloud console (with BOARD3_SANDBOX on)"),
            Tag(
                name="pipelines",
                description="Pipelines run Terraform: executions (plan, approve, apply, destroy), variables, "
                "live logs, cancel",
            ),
            Tag(
                name="notifications",
                description="A user's notifications (unread first, live over server-sent events), "
                "preferences and pipeline watches",
            ),
            Tag(
                name="webhooks",
                description="Signed HTTP deliveries of domain events, with retries and delivery history",
            ),
            Tag(
                name="drift",
                description="Drift checks: what changed outside Terraform, on demand or on a schedule; "
                "accept drift into the design",
            ),
        ],
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    app_logging.configure(settings.server.log_level)
    prefix = settings.redis.prefix
    redis = make_redis(settings.redis.url) if settings.redis.url else None
    stores = make_store_registry(redis, prefix)
    gate = make_gate(redis, prefix, settings.redis.url)
    channels = make_channels_plugin(redis, prefix)
    jobs = make_queue(settings.redis.url, prefix)
    runtime = Runtime(gate=gate, channels=channels, jobs=jobs, subscribers=SUBSCRIBERS)
    signing_secret = jwt_secret(settings.security.jwt_secret, settings.data_dir)
    auth_service = AuthService(
        settings,
        signing_secret,
        gate,
        make_windows(redis, prefix),
        RunTokens(prefix=run_tokens.RUN_TOKEN_PREFIX, authenticate=run_tokens.authenticate),
    )
    keyring = crypto.get_keyring()  # a malformed BOARD3_ENCRYPTION_KEYS fails here, before serving

    # Embedded mode: this server runs executions itself (production: `board3 worker` processes).
    worker = make_in_process_worker(jobs, settings) if settings.worker.in_process else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        bound = runtime_binding.bind(runtime)  # the in-process worker's jobs run with it
        engine = get_engine()
        await db_engine.start(engine, settings)
        try:
            await ensure_migrated()
            try:
                await check_keyring(keyring)
            except KeyCheckFailed as exc:
                log.critical("refusing to start: %s", exc)
                raise
            if settings.seed_on_start:
                async with exclusive():
                    await run_seeds()
            get_catalog()  # load (and check) the resource catalog now, not on the first request
            if worker is not None:
                await worker.start()
            freeze_startup_heap()
            log.info(
                "board3 started",
                extra={"database": engine.engine_type, "redis": redis is not None, "version": VERSION},
            )
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if isinstance(jobs, SaqQueue):
                await jobs.close()
            runtime_binding.unbind(bound)
            await db_engine.stop(engine)
            await gate.close()
            if redis is not None:
                await redis.aclose()

    # The console's pages authenticate with their session cookie (app.console.gate), not a bearer token.
    auth = DefineMiddleware(AuthMiddleware, exclude=[*PUBLIC_PATHS, f"^{CONSOLE_PATH}"])
    route_handlers: list[Any] = [
        HealthController,
        MetricsController,
        AuthController,
        OrganizationController,
        list_permissions,
        AuditController,
        DesignController,
        TemplateController,
        CollaborationController,
        CatalogController,
        DesignTerraformController,
        TerraformBackendController,
        StatesController,
        PipelineController,
        NotificationController,
        WebhookController,
        InvitationController,
        DriftController,
        *asset_routers(),
        *console_routers(auth_service, signing_secret),
    ]
    dependencies: dict[str, Provide] = {"principal": Provide(provide_principal, sync_to_thread=False)}
    if settings.sandbox_enabled:
        route_handlers.append(SandboxController)
        dependencies["sandbox_store"] = Provide(provide_sandbox_store)
    cors = CORSConfig(allow_origins=settings.server.cors_origins) if settings.server.cors_origins else None
    application = Litestar(
        route_handlers=route_handlers,
        lifespan=[lifespan],
        middleware=[auth],
        dependencies=dependencies,
        exception_handlers=with_console_pages(EXCEPTION_HANDLERS),
        before_request=refuse_nul,
        plugins=[channels],
        stores=stores,
        state=State(
            {
                "settings": settings,
                "redis": redis,
                "auth_service": auth_service,
                "design_deps": make_design_deps(
                    stores.get("cache"), channels, drift_marks=drift_reads.diagram_marks
                ),
                "mailer": make_mailer(settings),
                # Reported by /health/ready, never fatal: the terraform binary, and in production the
                # `board3 worker` processes seen lately.
                "reported_checks": [
                    functools.partial(terraform_check, settings.terraform.binary),
                    *([workers_check] if worker is None else []),
                ],
            }
        ),
        openapi_config=_openapi(),
        cors_config=cors,
        request_max_body_size=settings.server.max_body_bytes,
        debug=False,
        logging_config=None,
    )
    document_responses(application, PUBLIC_PATHS)
    repair_allow(application)
    # In front of the router and its exception handling: Terraform's LOCK/UNLOCK rewritten to
    # routable methods, then request id, access log and metrics for every response, then the
    # bound on request body bytes in flight (charged as handlers read bodies), then the runtime.
    budget = BodyBudget(
        RuntimeBinding(application.asgi_handler, runtime), settings.limits.max_inflight_body_bytes
    )
    application.asgi_handler = TerraformMethods(RequestObserver(budget))
    return application


__all__ = ["VERSION", "create_app"]
