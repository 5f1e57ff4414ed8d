"""Pure parts of pipelines: plan reading, masking, schedules, work files, stats."""

from __future__ import annotations

import base64
import datetime as dt
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pipelines.masking import MASK, Masker
from app.pipelines.schedule import ScheduleError, parse_schedule
from app.pipelines.stats import percentile, window
from app.pipelines.workfiles import TFVARS_HCL, TFVARS_JSON, backend_file, variable_files
from app.terraform import plan

SHOWN = {
    "resource_changes": [
        {
            "address": "sandbox_network.main",
            "type": "sandbox_network",
            "name": "main",
            "mode": "managed",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"cidr_block": "10.0.0.0/16", "tags": {"secret": "pw"}},
                "after_unknown": {"id": True, "arn": True},
                "after_sensitive": {"tags": {"secret": True}},
            },
        },
        {
            "address": "module.net.sandbox_subnet.a[0]",
            "module_address": "module.net",
            "type": "sandbox_subnet",
            "name": "a",
            "index": 0,
            "change": {
                "actions": ["delete", "create"],
                "before": {"cidr_block": "10.0.1.0/24"},
                "after": {"cidr_block": "10.0.2.0/24"},
            },
        },
        {"address": "terraform_data.same", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
        {"address": "data.sandbox_image.u", "change": {"actions": ["read"]}},
        {
            "address": "terraform_data.old",
            "change": {"actions": ["delete"], "before": {"input": "x"}, "after": None},
        },
        {
            "address": "terraform_data.upd",
            "change": {"actions": ["update"], "before": {"input": "a"}, "after": {"input": "b"}},
        },
    ],
    "output_changes": {"ip": {"actions": ["create"]}, "same": {"actions": ["no-op"]}},
    "resource_drift": [
        {
            "address": "sandbox_network.main",
            "change": {"actions": ["update"], "before": {"size": "small"}, "after": {"size": "xlarge"}},
        }
    ],
}


def test_a_plan_is_summarised_with_sensitive_and_unknown_values_masked() -> None:
    summary = plan.summarize(SHOWN)
    assert summary.counts() == {"add": 1, "change": 1, "destroy": 1, "replace": 1}
    assert summary.outputs_changed == ["ip"] and summary.has_changes
    network = summary.changes[0]
    assert network.after == {
        "cidr_block": "10.0.0.0/16",
        "tags": {"secret": plan.SENSITIVE},
        "id": plan.UNKNOWN,
        "arn": plan.UNKNOWN,
    }
    assert summary.changes[1].action == "replace" and summary.changes[1].changed_attributes == ("cidr_block",)
    assert [c.address for c in summary.changes] == [
        "sandbox_network.main",
        "module.net.sandbox_subnet.a[0]",
        "terraform_data.old",
        "terraform_data.upd",
    ]
    assert plan.drifted(SHOWN)[0].changed_attributes == ("size",)
    assert not plan.summarize({"resource_changes": SHOWN["resource_changes"][2:4]}).has_changes


def test_resources_map_back_to_canvas_nodes() -> None:
    nodes = plan.node_addresses(
        [
            ("n1", "sandbox_network", "main"),
            ("m", "module.net", "net"),
            ("d", "data.sandbox_image", "u"),
            ("v", "variable", "x"),
        ]
    )
    assert plan.node_of("sandbox_network.main", nodes) == "n1"
    assert plan.node_of("module.net.sandbox_subnet.a[0]", nodes) == "m"
    assert plan.node_of("module.net[1].sandbox_subnet.a", nodes) == "m"
    assert plan.node_of("data.sandbox_image.u", nodes) == "d"
    assert plan.node_of("sandbox_bucket.unknown", nodes) is None


def test_every_form_of_a_secret_is_masked() -> None:
    secret = 'p@ss"word\\with\nnewline'
    masker = Masker([secret, "ab"])  # too short to mask without masking everything
    escaped = json.dumps(secret)[1:-1]
    lines = [
        f"value: {secret}",
        json.dumps({"@message": f"x = {secret}"}),
        json.dumps({"m": json.dumps({"v": secret})}),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ]
    for line in lines:
        masked = masker.text(line)
        assert secret not in masked and escaped not in masked and MASK in masked, line
    assert masker.text("ab cd") == "ab cd"
    assert masker.data({"k": [secret, {secret: 1}]}) == {"k": [MASK, {MASK: 1}]}
    assert not Masker([]) and Masker([]).text(secret) == secret


@given(st.text(min_size=3, max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_masking_never_lets_the_secret_through(secret: str, before: str, after: str) -> None:
    masked = Masker([secret]).text(before + secret + after)
    assert secret not in masked or secret in MASK * 40


def test_schedules() -> None:
    minimum = dt.timedelta(minutes=5)
    at = dt.datetime(2026, 12, 3, 10, 7, tzinfo=dt.UTC)
    assert parse_schedule("0 */6 * * *", minimum).next_after(at) == dt.datetime(
        2026, 12, 3, 12, 0, tzinfo=dt.UTC
    )
    assert parse_schedule("30M", minimum).next_after(at) == at + dt.timedelta(minutes=30)
    for bad in ("* * * * *", "1m", "61 * * * *", "hourly", "0 0 * *"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad, minimum)


def test_backend_and_variable_files() -> None:
    backend = json.loads(backend_file("https://b3.example.com/", "eng", "my state"))
    http = backend["terraform"]["backend"]["http"]
    assert http["address"] == "https://b3.example.com/tf/eng/my%20state"
    assert http["lock_address"] == http["unlock_address"] == http["address"] + "/lock"
    assert "password" not in http  # the token comes as TF_HTTP_PASSWORD, never in a file
    variables = [
        SimpleNamespace(key="b", category="terraform", hcl=False, value='quote " ${x}'),
        SimpleNamespace(key="a", category="terraform", hcl=True, value='["x", "y"]'),
        SimpleNamespace(key="AWS_REGION", category="env", hcl=False, value="eu"),
    ]
    files = variable_files(variables)
    assert json.loads(files[TFVARS_JSON]) == {"b": 'quote " ${x}'}
    assert files[TFVARS_HCL] == b'a = ["x", "y"]\n'
    assert variable_files([]) == {}


def test_stats_windows_and_percentiles() -> None:
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)

    def row(days: int, status: str, seconds: float, operation: str = "apply") -> dict:
        created = now - dt.timedelta(days=days)
        return {
            "status": status,
            "operation": operation,
            "created_at": created,
            "started_at": created,
            "finished_at": created + dt.timedelta(seconds=seconds),
        }

    rows = [row(1, "applied", 10), row(2, "applied", 20), row(3, "errored", 5), row(20, "applied", 100)]
    rows += [row(1, "canceled", 1), row(1, "planned_and_finished", 2, "plan")]
    week = window(rows, now - dt.timedelta(days=7))
    assert (week.executions, week.succeeded, week.errored, week.canceled) == (5, 3, 1, 1)
    assert week.success_rate == 0.75
    assert week.duration_by_operation["apply"].median_seconds == 10
    month = window(rows, now - dt.timedelta(days=30))
    assert month.duration_by_operation["apply"].p95_seconds == 100
    assert percentile([], 50) is None and percentile([3.0], 95) == 3.0
