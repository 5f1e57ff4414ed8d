"""Reading ``terraform show -json <saved plan>``: what would change, with sensitive values masked.

Pure: takes the decoded document, returns data. Used for an execution's plan (``resource_changes``)
and for drift checks (``resource_drift``). Actions follow Terraform's change representation:
``["create"]``, ``["update"]``, ``["delete"]``, ``["delete", "create"]`` or ``["create",
"delete"]`` (replace), ``["read"]``, ``["no-op"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"

Action = Literal["create", "update", "delete", "replace", "read", "no-op"]


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    module_address: str | None
    mode: str
    type: str
    name: str
    index: Any
    action: Action
    actions: tuple[str, ...]
    before: Any
    after: Any
    # Top-level attribute names whose value differs between before and after (sorted).
    changed_attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanSummary:
    changes: list[ResourceChange]
    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    outputs_changed: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        """Anything an apply would do: resources, or root outputs (Terraform applies those too)."""
        return bool(self.add or self.change or self.destroy or self.replace or self.outputs_changed)

    def counts(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "destroy": self.destroy, "replace": self.replace}


def action_of(actions: Iterable[str]) -> Action:
    acts = tuple(actions)
    if acts in (("delete", "create"), ("create", "delete")):
        return "replace"
    if acts == ("create",):
        return "create"
    if acts == ("update",):
        return "update"
    if acts == ("delete",):
        return "delete"
    if acts == ("read",):
        return "read"
    return "no-op"


def mask(value: Any, sensitive: Any, unknown: Any = None) -> Any:
    """``value`` with every part marked in ``sensitive`` (Terraform's ``*_sensitive`` shape: ``true``
    or a structure mirroring the value) replaced, and parts marked in ``unknown`` shown as unknown."""
    if unknown is True:
        return UNKNOWN
    if sensitive is True:
        return SENSITIVE
    if isinstance(value, Mapping):
        sens = sensitive if isinstance(sensitive, Mapping) else {}
        unk = unknown if isinstance(unknown, Mapping) else {}
        out = {k: mask(v, sens.get(k), unk.get(k)) for k, v in value.items()}
        for key, flag in unk.items():  # attributes only known after apply are absent from "after"
            if key not in out and flag is True:
                out[key] = UNKNOWN
        return out
    if isinstance(value, list):
        sens_list = sensitive if isinstance(sensitive, list) else []
        unk_list = unknown if isinstance(unknown, list) else []
        return [
            mask(v, sens_list[i] if i < len(sens_list) else None, unk_list[i] if i < len(unk_list) else None)
            for i, v in enumerate(value)
        ]
    return value


def _changed(before: Any, after: Any) -> tuple[str, ...]:
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return ()
    return tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))


def resource_change(raw: Mapping[str, Any]) -> ResourceChange:
    """One entry of ``resource_changes`` or ``resource_drift``, masked."""
    change = raw.get("change") or {}
    actions = tuple(change.get("actions") or ())
    before = mask(change.get("before"), change.get("before_sensitive"))
    after = mask(change.get("after"), change.get("after_sensitive"), change.get("after_unknown"))
    return ResourceChange(
        address=str(raw.get("address", "")),
        module_address=raw.get("module_address"),
        mode=str(raw.get("mode", "managed")),
        type=str(raw.get("type", "")),
        name=str(raw.get("name", "")),
        index=raw.get("index"),
        action=action_of(actions),
        actions=actions,
        before=before,
        after=after,
        changed_attributes=_changed(before, after),
    )


def summarize(plan: Mapping[str, Any]) -> PlanSummary:
    """The resource changes of a saved plan (no-ops and reads left out) and their counts."""
    changes = [
        resource_change(raw)
        for raw in plan.get("resource_changes") or ()
        if action_of((raw.get("change") or {}).get("actions") or ()) not in ("no-op", "read")
    ]
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    outputs = sorted(
        name
        for name, out in (plan.get("output_changes") or {}).items()
        if action_of((out or {}).get("actions") or ()) not in ("no-op", "read")
    )
    return PlanSummary(
        changes=changes,
        add=counts["create"],
        change=counts["update"],
        destroy=counts["delete"],
        replace=counts["replace"],
        outputs_changed=outputs,
    )


def drifted(plan: Mapping[str, Any]) -> list[ResourceChange]:
    """The ``resource_drift`` entries of a (refresh-only or normal) saved plan, masked."""
    return [resource_change(raw) for raw in plan.get("resource_drift") or ()]


def node_addresses(nodes: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Terraform address -> canvas node id, from ``(node id, type, name)`` of a design's nodes:
    resources and data sources by ``type.name``, modules by ``module.name``."""
    out: dict[str, str] = {}
    for node_id, type_, name in nodes:
        if type_ in ("variable", "output"):
            continue
        address = f"module.{name}" if type_.startswith("module.") else f"{type_}.{name}"
        out[address] = node_id
    return out


def node_of(address: str, addresses: Mapping[str, str]) -> str | None:
    """The canvas node a resource address comes from: its own (an index stripped), or the module
    node it lives in."""
    base = address.split("[", 1)[0]
    if base in addresses:
        return addresses[base]
    if address.startswith("module."):
        module = address.split(".", 2)[:2]
        return addresses.get(".".join(module).split("[", 1)[0])
    return None
