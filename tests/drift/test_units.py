"""The pure cores of drift, without a database or terraform: reading drift from plans, comparing
checks, accepting drift into a canvas, when checks are due."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from app.drift import compare
from app.drift.accept import accept
from app.drift.cadence import decide, next_check, phase
from app.drift.schemas import AttributeDrift, ResourceDrift
from app.pipelines.schedule import parse_schedule
from app.terraform.canvas import Canvas
from app.terraform.catalog import get_catalog
from app.terraform.plan import SENSITIVE
from app.terraform.validate import validate
from tests.drift.fabricate import site

NODES = {"sandbox_network.main": "net", "sandbox_bucket.b": "bkt", "sandbox_subnet.web": "sub"}

# What `terraform show -json` printed for a refresh-only plan and a normal plan (Terraform 1.11,
# the sandbox provider): tags changed (one of them sensitive), an acl changed that the
# configuration does not set, a subnet deleted.
REFRESH_ONLY = {
    "resource_drift": [
        {
            "address": "sandbox_bucket.b",
            "mode": "managed",
            "type": "sandbox_bucket",
            "name": "b",
            "change": {
                "actions": ["update"],
                "before": {"acl": "private", "id": "bkt-1", "name": "b", "tags": None},
                "after": {"acl": "public-read", "id": "bkt-1", "name": "b", "tags": None},
                "before_sensitive": {},
                "after_sensitive": {},
            },
        },
        {
            "address": "sandbox_network.main",
            "mode": "managed",
            "type": "sandbox_network",
            "name": "main",
            "change": {
                "actions": ["update"],
                "before": {"id": "net-1", "tags": {"env": "dev", "secret": "hunter2"}},
                "after": {"id": "net-1", "tags": {"env": "prod", "secret": "changed"}},
                "before_sensitive": {"tags": {"secret": True}},
                "after_sensitive": {"tags": {"secret": True}},
            },
        },
        {
            "address": "sandbox_subnet.web",
            "mode": "managed",
            "type": "sandbox_subnet",
            "name": "web",
            "change": {
                "actions": ["delete"],
                "before": {"id": "subnet-1", "cidr_block": "10.0.1.0/24"},
                "after": None,
                "before_sensitive": {},
                "after_sensitive": False,
            },
        },
    ],
    "relevant_attributes": None,
}
NORMAL = {
    "resource_changes": [
        {
            "address": "sandbox_bucket.b",
            "change": {
                "actions": ["no-op"],
                "before": {"acl": "public-read", "name": "b"},
                "after": {"acl": "public-read", "name": "b"},
            },
        },
        {
            "address": "sandbox_network.main",
            "change": {
                "actions": ["update"],
                "before": {"id": "net-1", "tags": {"env": "prod", "secret": "changed"}},
                "after": {"id": "net-1", "tags": {"env": "dev", "secret": "hunter2"}},
                "after_unknown": {},
            },
        },
        {"address": "sandbox_subnet.web", "change": {"actions": ["create"], "before": None, "after": {}}},
    ],
    "relevant_attributes": [{"resource": "sandbox_network.main", "attribute": ["id"]}],
}


def test_findings_name_each_attribute_mask_sensitive_parts_and_say_what_an_apply_does() -> None:
    found = compare.findings(REFRESH_ONLY, NORMAL, NODES)
    assert [r.address for r in found] == ["sandbox_bucket.b", "sandbox_network.main", "sandbox_subnet.web"]
    bucket, network, subnet = found
    assert bucket.node_id == "bkt" and bucket.effect == "state_only"
    assert bucket.attributes == [
        AttributeDrift(name="acl", before="private", after="public-read", effect="state_only")
    ]
    (tags,) = network.attributes
    assert tags.sensitive and tags.effect == "will_be_reverted"
    assert tags.before == {"env": "dev", "secret": SENSITIVE} and tags.after == {
        "env": "prod",
        "secret": SENSITIVE,
    }
    assert "hunter2" not in msgspec.json.encode(found).decode()
    assert (subnet.action, subnet.effect, subnet.attributes) == ("delete", "will_be_reverted", [])
    counts = compare.counts(found)
    assert (counts.drifted, counts.changed, counts.deleted, counts.will_be_reverted) == (3, 2, 1, 2)


def test_a_change_only_inside_a_sensitive_value_is_still_drift() -> None:
    doc = {
        "resource_drift": [
            {
                "address": "sandbox_network.main",
                "type": "sandbox_network",
                "name": "main",
                "change": {
                    "actions": ["update"],
                    "before": {"tags": {"secret": "a"}},
                    "after": {"tags": {"secret": "b"}},
                    "before_sensitive": {"tags": True},
                    "after_sensitive": {"tags": True},
                },
            }
        ]
    }
    (found,) = compare.findings(doc, None, NODES)
    assert found.attributes == [
        AttributeDrift(name="tags", before=SENSITIVE, after=SENSITIVE, sensitive=True, effect="unknown")
    ]


def test_without_drift_entries_there_is_no_drift_whatever_else_the_plan_says() -> None:
    assert (
        compare.findings({"resource_drift": None, "resource_changes": NORMAL["resource_changes"]}, None, {})
        == []
    )
    no_difference = {
        "resource_drift": [
            {"address": "x.y", "change": {"actions": ["update"], "before": {"a": 1}, "after": {"a": 1}}}
        ]
    }
    assert compare.findings(no_difference, None, {}) == []
    data_source = {
        "resource_drift": [{"address": "data.x.y", "mode": "data", "change": {"actions": ["delete"]}}]
    }
    assert compare.findings(data_source, None, {}) == []


addresses = st.sampled_from([f"sandbox_bucket.b{i}" for i in range(6)])
attribute_names = st.sets(st.sampled_from(["acl", "tags", "versioning", "name"]), min_size=1, max_size=3)


@st.composite
def resources(draw: st.DrawFn) -> list[ResourceDrift]:
    out = []
    for address in sorted(draw(st.sets(addresses, max_size=6))):
        if draw(st.booleans()):
            out.append(ResourceDrift(address=address, type="sandbox_bucket", name="b", action="delete"))
        else:
            names = sorted(draw(attribute_names))
            attrs = [AttributeDrift(name=n, before=1, after=2) for n in names]
            out.append(
                ResourceDrift(
                    address=address, type="sandbox_bucket", name="b", action="update", attributes=attrs
                )
            )
    return out


def _keys(findings) -> set[tuple[str, str | None]]:
    out: set[tuple[str, str | None]] = set()
    for f in findings:
        if f.deleted:
            out.add((f.address, None))
        out.update((f.address, a) for a in f.attributes)
    return out


@given(resources(), resources())
def test_the_difference_partitions_what_both_checks_found(previous, current) -> None:
    diff = compare.difference(previous, current)
    new, still, resolved = _keys(diff.new), _keys(diff.still_drifted), _keys(diff.resolved)
    assert new | still == compare.keys(current)
    assert resolved | still == compare.keys(previous)
    assert not (new & still) and not (new & resolved) and not (still & resolved)


@given(resources())
def test_a_check_compared_with_itself_has_nothing_new_and_nothing_resolved(current) -> None:
    diff = compare.difference(current, current)
    assert diff.new == [] and diff.resolved == []
    first = compare.difference(None, current)
    assert first.still_drifted == [] and first.resolved == [] and _keys(first.new) == compare.keys(current)


def test_diagram_marks_are_changed_or_deleted_per_node() -> None:
    found = compare.findings(REFRESH_ONLY, NORMAL, NODES)
    assert compare.diagram_marks(found) == {"bkt": "changed", "net": "changed", "sub": "deleted"}


# --- accepting -----------------------------------------------------------------------------------


def _site_with_an_instance() -> Canvas:
    canvas = site()
    canvas["nodes"].append(
        {
            "id": "vm",
            "type": "sandbox_instance",
            "name": "vm",
            "properties": {
                "image": "ubuntu-24.04",
                "tags": {"Name": {"$expr": '"web-${sandbox_subnet.web.zone}"'}},
            },
            "parent": "sub",
        }
    )
    canvas["edges"] += [
        {"source": "vm", "target": "sub", "attribute": "subnet_id"},
        {"source": "vm", "target": "sub", "attribute": "tags"},
    ]
    return msgspec.convert(canvas, Canvas)


SITE = _site_with_an_instance()


def drift(address: str, node_id: str, action: str = "update", **attributes) -> ResourceDrift:
    type_, _, name = address.partition(".")
    return ResourceDrift(
        address=address,
        type=type_,
        name=name,
        action=action,  # type: ignore[arg-type]
        node_id=node_id,
        attributes=[AttributeDrift(name=k, before=b, after=a) for k, (b, a) in attributes.items()],
    )


def test_accept_sets_arguments_and_says_why_it_leaves_the_rest() -> None:
    found = [
        drift(
            "sandbox_load_balancer.site",
            "lb",
            listener_port=(443, 8443),
            tags=(None, {"owner": "ops", "note": None}),
            dns_name=("a", "b"),
            subnet_ids=(["s1"], ["s2"]),
        ),
        drift(
            "sandbox_instance.vm", "vm", tags=({"Name": "web-a"}, {"Name": "pet"}), size=("small", SENSITIVE)
        ),
        drift("sandbox_network.main", "net", "delete"),
        drift("module.x.sandbox_bucket.b", "net", acl=("a", "b")),
    ]
    found[-1].module_address = "module.x"
    out = accept(SITE, found, get_catalog())
    lb = next(n for n in out.canvas.nodes if n.id == "lb")
    assert lb.properties == {"listener_port": 8443, "tags": {"owner": "ops"}}
    assert [(a.attribute, a.design_value, a.value) for a in out.accepted] == [
        ("listener_port", 443, 8443),
        ("tags", None, {"owner": "ops"}),
    ]
    reasons = {(n.address, n.attribute): n.reason for n in out.not_accepted}
    assert "computed" in reasons[("sandbox_load_balancer.site", "dns_name")]
    assert "edge" in reasons[("sandbox_load_balancer.site", "subnet_ids")]
    assert (
        "expression" in reasons[("sandbox_instance.vm", "tags")]
        or "edge" in reasons[("sandbox_instance.vm", "tags")]
    )
    assert "sensitive" in reasons[("sandbox_instance.vm", "size")]
    assert "next apply creates it again" in reasons[("sandbox_network.main", None)]
    assert "module" in reasons[("module.x.sandbox_bucket.b", None)]
    assert out.removed_nodes == [] and len(out.canvas.nodes) == len(SITE.nodes)
    assert next(n for n in SITE.nodes if n.id == "lb").properties == {"listener_port": 443}  # input untouched


def test_removing_a_deleted_resource_takes_its_edges_and_reparents_its_children() -> None:
    out = accept(SITE, [drift("sandbox_subnet.web", "sub", "delete")], get_catalog(), remove_deleted=True)
    assert out.removed_nodes == ["sub"]
    vm = next(n for n in out.canvas.nodes if n.id == "vm")
    assert vm.parent == "net"
    assert all("sub" not in (e.source, e.target) for e in out.canvas.edges)
    assert not validate(out.canvas, get_catalog()).valid  # the instance lost its subnet: said, not hidden


@given(
    port=st.integers(1, 65535),
    tags=st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text(max_size=5)),
)
def test_accepting_twice_is_accepting_once(port: int, tags: dict) -> None:
    found = [drift("sandbox_load_balancer.site", "lb", listener_port=(443, port), tags=(None, tags or None))]
    once = accept(SITE, found, get_catalog())
    twice = accept(once.canvas, found, get_catalog())
    assert twice.canvas == once.canvas and twice.accepted == []
    assert validate(once.canvas, get_catalog()).valid


# --- schedules -----------------------------------------------------------------------------------

HOURLY = parse_schedule("0 * * * *", dt.timedelta(minutes=5))
SIX_HOURS = parse_schedule("6h", dt.timedelta(minutes=5))
JITTER = dt.timedelta(minutes=15)
T0 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC)
)


@given(
    instants,
    st.uuids(),
    st.sampled_from([HOURLY, SIX_HOURS, parse_schedule("30 2 * * 1-5", dt.timedelta(0))]),
)
def test_the_next_check_is_after_now_and_the_same_whenever_a_late_tick_asks(after, pid, schedule) -> None:
    due = next_check(schedule, after, pid, JITTER)
    assert due > after
    # A tick that comes late (a missed tick, a stopped scheduler) asks again later: one check, and
    # the next one is computed from that moment, never a backlog.
    assert next_check(schedule, due - dt.timedelta(microseconds=1), pid, JITTER) == due
    assert next_check(schedule, due, pid, JITTER) > due


def test_a_missed_hour_is_caught_up_once() -> None:
    pid = uuid.UUID(int=12345)
    due = next_check(HOURLY, T0, pid, JITTER)
    five_hours_late = due + dt.timedelta(hours=5, minutes=1)
    following = next_check(HOURLY, five_hours_late, pid, JITTER)
    assert dt.timedelta(0) < following - five_hours_late <= dt.timedelta(hours=1)


@settings(max_examples=20)
@given(st.uuids())
def test_cron_checks_start_within_a_tenth_of_the_period_after_the_hour(pid) -> None:
    due = next_check(HOURLY, T0, pid, JITTER)
    assert (
        dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC) < due <= dt.datetime(2026, 12, 3, 10, 6, tzinfo=dt.UTC)
    )


def test_ten_thousand_pipelines_on_the_hour_spread_over_the_window() -> None:
    dues = [next_check(HOURLY, T0, uuid.uuid4(), JITTER) for _ in range(10_000)]
    per_second: dict[dt.datetime, int] = {}
    for due in dues:
        second = due.replace(microsecond=0)
        per_second[second] = per_second.get(second, 0) + 1
    assert max(per_second.values()) < 80  # about 28 a second over six minutes, not 10,000 at once
    assert len(per_second) > 300
    intervals = [next_check(SIX_HOURS, T0, uuid.uuid4(), JITTER) - T0 for _ in range(1000)]
    assert max(intervals) - min(intervals) > dt.timedelta(hours=5)  # spread over the whole interval
    assert 0 <= phase(uuid.uuid4()) < 1


def test_a_check_runs_only_after_an_apply_and_a_scheduled_one_never_waits() -> None:
    never = decide(trigger="manual", last_applied_version=None, ever_applied=False, busy_with=None)
    assert never.action == "skip" and "nothing applied yet" in (never.reason or "")
    destroyed = decide(trigger="schedule", last_applied_version=None, ever_applied=True, busy_with=None)
    assert destroyed.action == "skip" and "destroyed" in (destroyed.reason or "")
    busy = "execution #3 (apply, planned)"
    scheduled = decide(trigger="schedule", last_applied_version=2, ever_applied=True, busy_with=busy)
    assert scheduled.action == "skip" and busy in (scheduled.reason or "")
    assert decide(trigger="manual", last_applied_version=2, ever_applied=True, busy_with=busy).action == "run"
    assert (
        decide(trigger="schedule", last_applied_version=2, ever_applied=True, busy_with=None).action == "run"
    )
