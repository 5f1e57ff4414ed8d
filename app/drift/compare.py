"""What drifted, and how it compares with the previous check. Pure: data in, data out.

``findings`` reads two ``terraform show -json`` documents: the saved refresh-only plan, whose
``resource_drift`` says what changed outside Terraform (decided from those entries, never from an
exit code), and, when something drifted, a normal plan of the same configuration, whose
``resource_changes`` say which drifted attributes the next apply would put back. Attribute changes
are found on the raw values, so a change inside a sensitive value is seen, and only the masked
values are returned. ``difference`` compares two checks' findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.drift.schemas import (
    AttributeDrift,
    Difference,
    DriftCounts,
    DriftFinding,
    Effect,
    ResourceDrift,
)
from app.terraform.plan import action_of, mask, node_of

Key = tuple[str, str | None]  # (address, attribute); attribute None: the resource was deleted


def _has_mark(tree: Any) -> bool:
    """Whether a ``*_sensitive``/``after_unknown`` tree marks anything."""
    if tree is True:
        return True
    if isinstance(tree, Mapping):
        return any(_has_mark(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_mark(v) for v in tree)
    return False


def _sub(tree: Any, key: str) -> Any:
    if tree is True:
        return True
    return tree.get(key) if isinstance(tree, Mapping) else None


def _planned(normal: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if normal is None:
        return {}
    return {
        str(rc.get("address")): rc for rc in normal.get("resource_changes") or () if isinstance(rc, Mapping)
    }


def _relevant(normal: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for item in (normal or {}).get("relevant_attributes") or ():
        path = item.get("attribute") if isinstance(item, Mapping) else None
        if isinstance(path, list) and path and isinstance(path[0], str):
            out.add((str(item.get("resource")), path[0]))
    return out


def _attribute_effect(planned: Mapping[str, Any] | None, name: str) -> Effect:
    """Whether the normal plan changes attribute ``name`` back: its planned value differs from the
    real one (the plan's ``before`` is the refreshed, real object) or is only known after apply."""
    if planned is None:
        return "unknown"
    change = planned.get("change") or {}
    action = action_of(change.get("actions") or ())
    if action in ("no-op", "read"):
        return "state_only"
    before, after = change.get("before"), change.get("after")
    if action == "delete" or not isinstance(after, Mapping):
        return "unknown"
    real = before.get(name) if isinstance(before, Mapping) else None
    if _has_mark(_sub(change.get("after_unknown"), name)) or after.get(name) != real:
        return "will_be_reverted"
    return "state_only"


def _deleted_effect(planned: Mapping[str, Any] | None) -> Effect:
    if planned is None:
        return "unknown"
    action = action_of((planned.get("change") or {}).get("actions") or ())
    return "will_be_reverted" if action in ("create", "replace") else "state_only"


def _attributes(
    change: Mapping[str, Any], planned: Mapping[str, Any] | None, relevant: set[tuple[str, str]], address: str
) -> list[AttributeDrift]:
    before, after = change.get("before"), change.get("after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return []
    out = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        before_marks = _sub(change.get("before_sensitive"), name)
        after_marks = _sub(change.get("after_sensitive"), name)
        out.append(
            AttributeDrift(
                name=name,
                before=mask(before.get(name), before_marks),
                after=mask(after.get(name), after_marks),
                sensitive=_has_mark(before_marks) or _has_mark(after_marks),
                effect=_attribute_effect(planned, name),
                affects_plan=(address, name) in relevant,
            )
        )
    return out


def findings(
    refresh_only: Mapping[str, Any], normal: Mapping[str, Any] | None, nodes: Mapping[str, str]
) -> list[ResourceDrift]:
    """The drifted resources of a refresh-only plan (sorted by address), each attribute marked with
    what the next apply of the same configuration does about it (from ``normal``, when given).
    ``nodes`` maps addresses to canvas node ids (``app.terraform.plan.node_addresses``)."""
    planned = _planned(normal)
    relevant = _relevant(normal)
    out = []
    for raw in refresh_only.get("resource_drift") or ():
        if not isinstance(raw, Mapping) or raw.get("mode", "managed") != "managed":
            continue
        change = raw.get("change") or {}
        action = action_of(change.get("actions") or ())
        address = str(raw.get("address", ""))
        resource = ResourceDrift(
            address=address,
            type=str(raw.get("type", "")),
            name=str(raw.get("name", "")),
            action="delete",
            module_address=raw.get("module_address"),
            index=raw.get("index"),
            node_id=node_of(address, nodes),
        )
        if action == "delete":
            resource.effect = _deleted_effect(planned.get(address))
            out.append(resource)
        elif action == "update":
            attributes = _attributes(change, planned.get(address), relevant, address)
            if not attributes:  # an update with no visible difference is no drift worth reporting
                continue
            effects = {a.effect for a in attributes}
            effect: Effect = (
                "will_be_reverted"
                if "will_be_reverted" in effects
                else ("state_only" if effects == {"state_only"} else "unknown")
            )
            resource.action, resource.effect, resource.attributes = "update", effect, attributes
            out.append(resource)
    return sorted(out, key=lambda r: r.address)


def counts(resources: Sequence[ResourceDrift]) -> DriftCounts:
    deleted = sum(1 for r in resources if r.action == "delete")
    attributes = [a for r in resources for a in r.attributes]
    reverted = sum(1 for a in attributes if a.effect == "will_be_reverted")
    reverted += sum(1 for r in resources if r.action == "delete" and r.effect == "will_be_reverted")
    return DriftCounts(
        drifted=len(resources),
        changed=len(resources) - deleted,
        deleted=deleted,
        attributes=len(attributes),
        will_be_reverted=reverted,
    )


def keys(resources: Iterable[ResourceDrift]) -> set[Key]:
    """What a check found, as (address, attribute) pairs; a deleted resource is (address, None)."""
    out: set[Key] = set()
    for r in resources:
        if r.action == "delete":
            out.add((r.address, None))
        else:
            out.update((r.address, a.name) for a in r.attributes)
    return out


def _group(found: set[Key], node_ids: Mapping[str, str | None]) -> list[DriftFinding]:
    by_address: dict[str, DriftFinding] = {}
    for address, attribute in sorted(found, key=lambda k: (k[0], k[1] or "")):
        item = by_address.setdefault(address, DriftFinding(address=address, node_id=node_ids.get(address)))
        if attribute is None:
            item.deleted = True
        else:
            item.attributes.append(attribute)
    return list(by_address.values())


def difference(previous: Sequence[ResourceDrift] | None, current: Sequence[ResourceDrift]) -> Difference:
    """``current`` against ``previous`` (None: there was no earlier result, so all of it is new)."""
    now, before = keys(current), keys(previous or ())
    node_ids = {r.address: r.node_id for r in (*(previous or ()), *current)}
    return Difference(
        new=_group(now - before, node_ids),
        still_drifted=_group(now & before, node_ids),
        resolved=_group(before - now, node_ids),
    )


def diagram_marks(resources: Iterable[ResourceDrift]) -> dict[str, str]:
    """Canvas node id -> ``deleted`` when every resource drawn by the node was deleted outside
    Terraform, else ``changed``."""
    marks: dict[str, str] = {}
    for r in resources:
        if r.node_id is None:
            continue
        mark = "deleted" if r.action == "delete" else "changed"
        marks[r.node_id] = mark if marks.get(r.node_id, mark) == mark else "changed"
    return marks
