"""The sandbox cloud's API: create, read, update and delete resources the way a real cloud would.

Each write runs in one store transaction, so the checks that need other resources (the subnet's
network exists and contains it, a private IP is free, a bucket name is unused) cannot race with
another terraform process. Errors are ``CloudError``s carrying ``Problem``s that name the
attribute at fault; the provider turns them into Terraform diagnostics.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from app.sandbox.rules import (
    Problem,
    allocate_ip,
    cidr_inside,
    cidrs_overlap,
    complete,
    computed_on_create,
    validate_config,
    validate_update,
)
from app.sandbox.specs import RESOURCE_TYPES, TypeSpec
from app.sandbox.store import Record, SandboxStore, Transaction, UniqueViolation


class CloudError(Exception):
    """The cloud refused a request; ``problems`` say why and name the attributes."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.summary}: {p.detail}" for p in self.problems))


def new_id(spec: TypeSpec) -> str:
    return f"{spec.id_prefix}-{secrets.token_hex(8)}"


def _spec(type_name: str) -> TypeSpec:
    spec = RESOURCE_TYPES.get(type_name)
    if spec is None:
        raise CloudError(
            [Problem((), "Unknown resource type", f"{type_name} is not a sandbox resource type.")]
        )
    return spec


def _ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


class SandboxCloud:
    """Resource operations against one store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def create(self, type_name: str, planned: Mapping[str, Any]) -> dict[str, Any]:
        spec = _spec(type_name)
        attrs = complete(spec, planned)
        _raise_if(validate_config(type_name, attrs))
        boot = attrs.get("boot_seconds")
        if isinstance(boot, int | float) and boot > 0:
            time.sleep(boot)  # outside the transaction: slow boots must not block other writers
        resource_id = new_id(spec)
        with self.store.transaction() as tx:
            targets = _checked_references(tx, type_name, attrs)
            attrs.update(computed_on_create(spec, resource_id, attrs))
            if type_name == "sandbox_instance":
                attrs["private_ip"] = _allocate_ip(tx, targets["subnet_id"][0])
            try:
                tx.insert(resource_id, type_name, attrs)
            except UniqueViolation:
                detail = f"a bucket named {attrs['name']!r} already exists; bucket names are global."
                raise CloudError([Problem(("name",), "Bucket name already taken", detail)]) from None
        return {"id": resource_id, **attrs}

    def read(self, type_name: str, resource_id: str) -> dict[str, Any] | None:
        """The resource as the cloud has it now, or None when it is gone."""
        spec = _spec(type_name)
        record = self.store.get(resource_id)
        if record is None or record.type != type_name:
            return None
        return {"id": record.id, **complete(spec, record.attributes)}

    def update(self, type_name: str, resource_id: str, planned: Mapping[str, Any]) -> dict[str, Any]:
        spec = _spec(type_name)
        wanted = complete(spec, planned)
        _raise_if(validate_config(type_name, wanted))
        with self.store.transaction() as tx:
            current = tx.get(resource_id)
            if current is None or current.type != type_name:
                detail = f"{resource_id} was deleted outside Terraform; refresh to recreate it."
                raise CloudError([Problem(("id",), "Resource no longer exists", detail)])
            _raise_if(validate_update(type_name, current.attributes, wanted))
            attrs = complete(spec, current.attributes)
            for attr in spec.attributes:
                value = wanted.get(attr.name)
                if attr.configurable and not (value is None and attr.computed):
                    attrs[attr.name] = value  # optional+computed left unset: the cloud's value stays
            for block in spec.blocks:
                attrs[block.name] = wanted[block.name]
            _checked_references(tx, type_name, attrs, exclude=resource_id)
            tx.update(resource_id, attrs)
        return {"id": resource_id, **attrs}

    def delete(self, type_name: str, resource_id: str) -> None:
        """Delete; refuse while other resources live inside this one. Already gone is fine."""
        _spec(type_name)
        with self.store.transaction() as tx:
            if tx.get(resource_id) is None:
                return
            users = tx.referrers(resource_id, dependencies_only=True)
            if users:
                names = ", ".join(f"{r.type} {r.id}" for r in users)
                detail = f"{resource_id} is still used by {names}; delete those first."
                raise CloudError([Problem((), "Dependency violation", detail)])
            tx.delete(resource_id)


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise CloudError(problems)


def _target(
    tx: Transaction, attr: str, target_id: str, type_name: str
) -> tuple[Record | None, list[Problem]]:
    record = tx.get(target_id)
    if record is None or record.type != type_name:
        detail = f"{target_id} is not an existing {type_name}."
        return None, [Problem((attr,), f"Invalid {attr}", detail)]
    return record, []


def _checked_references(
    tx: Transaction, type_name: str, attrs: Mapping[str, Any], *, exclude: str | None = None
) -> dict[str, list[Record]]:
    """The records the resource refers to, by attribute, once they are known to exist, lie in the
    right network and do not overlap; else ``CloudError``."""
    spec = RESOURCE_TYPES[type_name]
    problems: list[Problem] = []
    found: dict[str, list[Record]] = {}
    for attr in spec.attributes:
        if attr.reference is None:
            continue
        for target_id in _ids(attrs.get(attr.name)):
            record, missing = _target(tx, attr.name, target_id, attr.reference)
            problems += missing
            if record is not None:
                found.setdefault(attr.name, []).append(record)
    _raise_if(problems)
    if type_name == "sandbox_subnet":
        problems += _subnet_placement(tx, attrs, found["network_id"][0], exclude)
    networks = _networks(found)
    if len(set(networks.values())) > 1:
        listing = ", ".join(f"{rid} in {net}" for rid, net in sorted(networks.items()))
        name = next(a for a in ("security_group_ids", "subnet_ids") if a in found)
        detail = f"all of these must be in one network: {listing}."
        problems.append(Problem((name,), f"Invalid {name}", detail))
    _raise_if(problems)
    return found


def _subnet_placement(
    tx: Transaction, attrs: Mapping[str, Any], network: Record, exclude: str | None
) -> list[Problem]:
    cidr, net_cidr = attrs["cidr_block"], network.attributes.get("cidr_block", "")
    if not cidr_inside(cidr, net_cidr):
        detail = f"{cidr} is not inside {net_cidr}, the range of network {network.id}."
        return [Problem(("cidr_block",), "Subnet outside its network", detail)]
    for sibling in tx.referrers(network.id, type_name="sandbox_subnet"):
        other = sibling.attributes.get("cidr_block", "")
        if sibling.id != exclude and cidrs_overlap(cidr, other):
            detail = f"{cidr} overlaps {other} of subnet {sibling.id} in network {network.id}."
            return [Problem(("cidr_block",), "Subnet range conflict", detail)]
    return []


def _networks(found: Mapping[str, list[Record]]) -> dict[str, str]:
    """Network of every subnet and security group referred to, by resource id."""
    networks: dict[str, str] = {}
    for records in found.values():
        for record in records:
            if record.type in ("sandbox_subnet", "sandbox_security_group"):
                networks[record.id] = str(record.attributes.get("network_id"))
    return networks


def _allocate_ip(tx: Transaction, subnet: Record) -> str:
    used = [
        r.attributes.get("private_ip") or "" for r in tx.referrers(subnet.id, type_name="sandbox_instance")
    ]
    address = allocate_ip(subnet.attributes.get("cidr_block", ""), used)
    if address is None:
        detail = f"subnet {subnet.id} ({subnet.attributes.get('cidr_block')}) has no free address left."
        raise CloudError([Problem(("subnet_id",), "Subnet is full", detail)])
    return address
