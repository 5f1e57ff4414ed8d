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
from typing import Any

from app.db import after_commit
from app.lib.runtime import current

log = logging.getLogger("board3.generations")

OPT_KEY = "generations"
# A route handler's ``opt[OPT_KEY]``: the generation names one request depends on, from its
# parsed path parameters (empty when it cannot tell).
GenerationsOf = Callable[[dict[str, Any]], Sequence[str]]


def route_generations(scope: Mapping[str, Any]) -> Sequence[str]:
    """The generations the matched route asks for (the auth middleware reads them with the gate)."""
    handler = scope.get("route_handler")
    generations_of: GenerationsOf | None = handler.opt.get(OPT_KEY) if handler is not None else None
    if generations_of is None:
        return ()
    return generations_of(scope.get("path_params") or {})


async def renew(*names: str) -> None:
    if not names:
        return
    runtime = current()
    if runtime is None:  # a writer running outside the app or a worker: nobody could be told
        log.error("no runtime is bound; generations %s were not renewed", ", ".join(names))
        return
    try:
        await runtime.gate.renew(*names)
    except Exception as exc:  # the write has committed; do not turn it into an error
        log.error("could not renew generations %s: %s", ", ".join(names), exc)


async def renew_after_commit(*names: str) -> None:
    """Renew ``names`` once the current transaction commits (at once outside a transaction)."""
    await after_commit(functools.partial(renew, *names))


def org_generation(organization_id: object) -> str:
    return f"org:{organization_id}"


def design_generation(design_id: object) -> str:
    return f"design:{design_id}"
