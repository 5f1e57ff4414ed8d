"""The OpenAPI document describes what the server does: schemathesis sends generated requests to a
real ``board3 serve`` and checks every response against the document (status code documented,
content type, body schema) and that none is a 5xx, for valid and for invalid requests.

Path parameters are pointed at objects that exist (the caller's organization, a design from the
sandbox template, a state with versions), so operations answer 200 as well as their errors; query
parameters and bodies are generated. Destructive operations that would pull the ground from under
the others (deleting the design, the session, members) are left out. Hypothesis runs derandomized
with a bounded number of examples per operation, so the run is repeatable and takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

EXAMPLES = 10
NEGATIVE_EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# (method, path) pairs left out, with the reason.
SKIPPED = {
    ("POST", "/api/v1/auth/logout"): "ends the session the run uses",
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): "could end the session the run uses",
    ("DELETE", "/api/v1/designs/{design_id}"): "deletes the design the other operations use",
    ("DELETE", "/api/v1/orgs/{org}/members/{user_id}"): "removes the caller from the organization",
    ("PATCH", "/api/v1/orgs/{org}/members/{user_id}"): "may demote the caller",
    ("DELETE", "/api/v1/orgs/{org}/states/{name}"): "deletes the state the other operations use",
    ("GET", "/api/v1/designs/{design_id}/events"): "an endless event stream",
    ("POST", "/api/v1/auth/register"): "rate limited per client address; covered by the auth tests",
    ("POST", "/api/v1/auth/login"): "rate limited per account; covered by the auth tests",
    ("POST", "/api/v1/auth/refresh"): "rotates refresh tokens; covered by the auth tests",
    ("DELETE", "/api/v1/pipelines/{pipeline_id}"): "deletes the pipeline the other operations use",
    ("GET", "/api/v1/notifications/stream"): "an endless event stream",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "deletes the webhook the other operations use",
}

STATE = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 1,
    "lineage": str(uuid.uuid4()),
    "outputs": {"greeting": {"value": "hello", "type": "string"}},
    "resources": [],
    "check_results": None,
}


def _world(base_url: str) -> dict[str, Any]:
    """A user with an organization, a design from a template, a comment, a share, a state, a
    pipeline with a variable, an execution and a drift check."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        email = f"contract-{uuid.uuid4().hex[:10]}@example.com"
        r = http.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": "correct horse battery staple",
                "name": "Contract",
                "organization": f"contract {uuid.uuid4().hex[:8]}",
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        token, org = body["access_token"], body["organization"]["slug"]
        http.headers["Authorization"] = f"Bearer {token}"
        r = http.post(
            "/api/v1/templates/sandbox-static-site/instantiate", json={"organization": org, "name": "site"}
        )
        assert r.status_code == 201, r.text
        design_id = r.json()["id"]
        r = http.post(f"/api/v1/designs/{design_id}/comments", json={"body": "looks good"})
        assert r.status_code == 201, r.text
        comment_id = r.json()["id"]
        r = http.post(f"/tf/{org}/contract", content=json.dumps(STATE))
        assert r.status_code == 200, r.text
        r = http.post("/api/v1/orgs", json={"name": f"second {uuid.uuid4().hex[:8]}"})
        assert r.status_code == 201, r.text
        key = http.post(f"/api/v1/orgs/{org}/api-keys", json={"name": "contract"})
        assert key.status_code == 201, key.text
        r = http.post(f"/api/v1/designs/{design_id}/pipelines", json={"environment": "contract"})
        assert r.status_code == 201, r.text
        pipeline_id = r.json()["id"]
        r = http.post(f"/api/v1/pipelines/{pipeline_id}/variables", json={"key": "region", "value": "eu"})
        assert r.status_code == 201, r.text
        variable_id = r.json()["id"]
        # A finished execution (canceled before any worker took it): its log stream ends at once.
        r = http.post(f"/api/v1/pipelines/{pipeline_id}/executions", json={"operation": "plan"})
        assert r.status_code == 202, r.text
        execution_id = r.json()["id"]
        assert http.post(f"/api/v1/executions/{execution_id}/cancel").status_code == 200
        hooks = _hooks(http, base_url, org, body["user"]["email"])
        # A drift check (skipped: the pipeline has applied nothing yet, so it needs no worker).
        r = http.post(f"/api/v1/pipelines/{pipeline_id}/drift-checks")
        assert r.status_code == 202 and r.json()["status"] == "skipped", r.text
        check_id = r.json()["id"]
        return {
            "token": token,
            "path": {
                "org": org,
                "design_id": design_id,
                "number": 1,
                "comment_id": comment_id,
                "name": "contract",
                "serial": 1,
                "template_ref": "sandbox-static-site",
                "user_id": body["user"]["id"],
                "key_id": key.json()["api_key"]["id"],
                "pipeline_id": pipeline_id,
                "variable_id": variable_id,
                "execution_id": execution_id,
                **hooks,
                "check_id": check_id,
            },
        }


def _hooks(http: httpx.Client, base_url: str, org: str, email: str) -> dict[str, Any]:
    """A webhook with a delivery, an invitation of this organization, and a notification and an
    invitation token for the caller (invited to another organization)."""
    r = http.post(
        f"/api/v1/orgs/{org}/webhooks",
        json={"name": "contract", "url": "https://hooks.example.com/board3", "events": ["*"]},
    )
    assert r.status_code == 201, r.text
    webhook_id = r.json()["webhook"]["id"]
    r = http.post(f"/api/v1/webhooks/{webhook_id}/test")
    assert r.status_code == 202, r.text
    delivery_id = r.json()["id"]
    r = http.post(
        f"/api/v1/orgs/{org}/invitations", json={"email": f"invitee-{uuid.uuid4().hex[:8]}@example.com"}
    )
    assert r.status_code == 201, r.text
    invitation_id = r.json()["id"]
    r = httpx.post(
        f"{base_url}/api/v1/auth/register",
        json={
            "email": f"inviter-{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery staple",
            "name": "Inviter",
            "organization": f"inviting {uuid.uuid4().hex[:8]}",
        },
    )
    assert r.status_code == 201, r.text
    other = r.json()
    r = httpx.post(
        f"{base_url}/api/v1/orgs/{other['organization']['slug']}/invitations",
        json={"email": email},
        headers={"Authorization": f"Bearer {other['access_token']}"},
    )
    assert r.status_code == 201, r.text
    notes = http.get("/api/v1/notifications").json()["items"]
    assert notes and notes[0]["type"] == "invitation.created"
    return {
        "webhook_id": webhook_id,
        "delivery_id": delivery_id,
        "invitation_id": invitation_id,
        "notification_id": notes[0]["id"],
        "token": _outbox_token(email),
    }


def _outbox_token(email: str) -> str:
    """The invitation token mailed to ``email`` (the server writes mail to the data dir's outbox)."""
    outbox = Path(os.environ["BOARD3_DATA_DIR"]) / "outbox"
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        text = path.read_text()
        if f"To: {email}" in text:
            match = re.search(r"b3i_[A-Za-z0-9_-]+", text)
            assert match, text
            return match.group(0)
    raise AssertionError(f"no invitation mailed to {email}")


def _summary(operation: Any, mode: GenerationMode, exc: BaseException) -> str:
    """The failure's first lines: which check, what was received, how to reproduce."""
    lines = [line for line in str(exc).splitlines() if line.strip()][:12]
    return f"{operation.method.upper()} {operation.path} ({mode.value} data):\n  " + "\n  ".join(lines)


def _has_inputs(operation: Any) -> bool:
    return bool(len(operation.body) or len(operation.query) or len(operation.headers))


def test_responses_match_the_openapi_document(live_server):
    server = live_server()
    world = _world(server.url)
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {world['token']}"}
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        tested += 1
        # Valid data, and invalid data (wrong types, missing fields...) where there is input to spoil.
        runs = [(GenerationMode.POSITIVE, EXAMPLES)]
        if _has_inputs(operation):
            runs.append((GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES))
        for mode, examples in runs:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                for name in list(case.path_parameters or {}):
                    if name in world["path"]:
                        case.path_parameters[name] = world["path"][name]
                case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure at once
                failures.append(_summary(operation, mode, exc))
    assert tested >= 55
    assert failures == [], "\n\n".join(failures)
