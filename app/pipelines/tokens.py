"""Run tokens: the credential terraform uses to reach Board3's state backend during one execution.

``b3x_<execution id>.<secret>``, given to terraform as ``TF_HTTP_PASSWORD`` and stored only as a
hash on the execution row. It reads and writes that execution's state and nothing else, and only
while a worker runs terraform for the execution (``planning``/``applying``): a new token replaces
it at each attempt, and once the execution has finished every token of it is refused, so a
terraform process that outlived its run cannot write late.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from app.accounts.auth_service import Client
from app.accounts.credentials import sha256_hex
from app.lib.errors import Unauthorized
from app.lib.principal import Principal
from app.pipelines.model import RUNNING
from app.pipelines.tables import Execution

RUN_TOKEN_PREFIX = "b3x_"
RUN_SCOPES = frozenset({"state:read", "state:write"})


def new_token(execution_id: uuid.UUID) -> tuple[str, str]:
    """A fresh token for ``execution_id`` and the hash to store."""
    token = f"{RUN_TOKEN_PREFIX}{execution_id.hex}.{secrets.token_urlsafe(32)}"
    return token, sha256_hex(token)


async def authenticate(token: str, client: Client) -> Principal:
    """The run principal of a live execution's current token (401 otherwise)."""
    invalid = Unauthorized("run token is invalid, replaced or its run has ended", code="invalid-run-token")
    head, _, secret = token.removeprefix(RUN_TOKEN_PREFIX).partition(".")
    try:
        execution_id = uuid.UUID(hex=head)
    except ValueError:
        raise invalid from None
    if not secret:
        raise invalid
    row = (
        await Execution.select(
            Execution.id,
            Execution.number,
            Execution.status,
            Execution.token_hash,
            Execution.organization,
            Execution.organization._.slug,
            Execution.pipeline._.state_name,
            Execution.pipeline._.environment,
        )
        .where(Execution.id == execution_id)
        .first()
    )
    if row is None or row["token_hash"] is None or row["status"] not in RUNNING:
        raise invalid
    if not hmac.compare_digest(row["token_hash"], sha256_hex(token)):
        raise invalid
    return Principal(
        kind="run",
        id=row["id"],
        label=f"run:{row['pipeline.environment']}#{row['number']}",
        organization_id=row["organization"],
        organization_slug=row["organization.slug"],
        scopes=RUN_SCOPES,
        ip=client.ip,
        user_agent=client.user_agent,
        request_id=client.request_id,
        extra={"execution_id": row["id"], "state": row["pipeline.state_name"]},
    )
