"""Generation tokens: how a process may remember facts across requests and still never serve a
stale one.

A generation names something whose facts a process remembers (``org:<id>``: an organization's
memberships and roles; ``design:<id>``: one design's access facts). Its current token lives in the
request gate (Redis in production, process memory in embedded mode):

- a route names the generations it depends on (``route_generations``); the gate reads their
  tokens in the same round trip that admits the request, before the handler queries anything, and
  the principal carries them (``Principal.generations``);
- a handler may remember what it read from the database under those tokens, and reuse it while a
  later request reads the same tokens;
- every write that changes such facts calls ``renew_after_commit``: once its transaction has
  committed, the tokens are replaced, so a fact remembered before the commit can never match again.

Reading the token before the query and renewing it after the commit is what makes this safe: a
reader whose query saw the old data read the token before the writer renewed it. A renewal that
cannot reach Redis is logged; what other processes remember then ages out (see the users).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from app.db import after_commit
from app.lib.gate import RequestGate

log = logging.getLogger("board3.generations")

OPT_KEY = "generations"
# A route handler's ``opt[OPT_KEY]``: the generation names one request depends on, from its
# parsed path parameters (empty when it cannot tell).
GenerationsOf = Callable[[dict[str, Any]], Sequence[str]]

# The gate renewals go to: bound by the composition root for everything that runs inside the app
# (``GateBinding``), or by a worker for its jobs (``bind``). A context variable rather than a
# module global, so two apps in one process (tests) each renew through their own gate.
_gate: ContextVar[RequestGate | None] = ContextVar("board3_gate", default=None)


def bind(gate: RequestGate | None) -> Token[RequestGate | None]:
    """Make ``gate`` the one renewals in this context go to; ``unbind`` with the token undoes it."""
    return _gate.set(gate)


def unbind(token: Token[RequestGate | None]) -> None:
    _gate.reset(token)


class GateBinding:
    """ASGI wrapper built by ``create_app``: every request (and the lifespan) renews through the
    app's own gate."""

    def __init__(self, app: ASGIApp, gate: RequestGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _gate.set(self.gate)
        try:
            await self.app(scope, receive, send)
        finally:
            _gate.reset(token)


def route_generations(scope: Mapping[str, Any]) -> Sequence[str]:
    """The generations the matched route asks for (the auth middleware reads them with the gate)."""
    handler = scope.get("route_handler")
    generations_of: GenerationsOf | None = handler.opt.get(OPT_KEY) if handler is not None else None
    if generations_of is None:
        return ()
    return generations_of(scope.get("path_params") or {})


async def renew(*names: str) -> None:
    gate = _gate.get()
    if not names:
        return
    if gate is None:  # a writer running outside the app or a worker: nobody could be told
        log.error("no request gate is bound; generations %s were not renewed", ", ".join(names))
        return
    try:
        await gate.renew(*names)
    except Exception as exc:  # the write has committed; do not turn it into an error
        log.error("could not renew generations %s: %s", ", ".join(names), exc)


async def renew_after_commit(*names: str) -> None:
    """Renew ``names`` once the current transaction commits (at once outside a transaction)."""
    await after_commit(functools.partial(renew, *names))


def org_generation(organization_id: object) -> str:
    return f"org:{organization_id}"


def design_generation(design_id: object) -> str:
    return f"design:{design_id}"
