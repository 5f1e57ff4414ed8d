"""Rules of the sandbox cloud: address arithmetic, validation and derived values.

Pure: no I/O. The provider and the cloud layer call these with plain dicts and turn the returned
``Problem``s into Terraform diagnostics or API field errors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.sandbox.specs import (
    ACCOUNT_ID,
    BUCKET_ACLS,
    ENGINE_PORTS,
    ENGINES,
    IMAGES,
    NETWORK_PREFIXES,
    PROTOCOLS,
    REGION,
    RESERVED_HOSTS,
    RESOURCE_TYPES,
    SIZES,
    ZONES,
    Image,
    Kind,
    TypeSpec,
)


@dataclass(frozen=True)
class Problem:
    """One finding about a value; ``path`` names the attribute (first step) it concerns."""

    path: tuple[str, ...]
    summary: str
    detail: str

    @property
    def attribute(self) -> str | None:
        return self.path[0] if self.path else None


# ---------------------------------------------------------------- addresses


def parse_cidr(value: str) -> tuple[ipaddress.IPv4Network | None, str]:
    """The network for ``value`` or ``(None, reason)``: IPv4, with no host bits set."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None, f"{value!r} is not an IPv4 CIDR block such as 10.0.0.0/16"
    if not isinstance(net, ipaddress.IPv4Network) or "/" not in value:
        return None, f"{value!r} is not an IPv4 CIDR block such as 10.0.0.0/16"
    if str(net) != value:
        return None, f"{value!r} has host bits set; did you mean {net}?"
    return net, ""


def cidr_inside(inner: str, outer: str) -> bool:
    a, _ = parse_cidr(inner)
    b, _ = parse_cidr(outer)
    return a is not None and b is not None and a.subnet_of(b)


def cidrs_overlap(a: str, b: str) -> bool:
    x, _ = parse_cidr(a)
    y, _ = parse_cidr(b)
    return x is not None and y is not None and x.overlaps(y)


def allocate_ip(cidr: str, used: Iterable[str]) -> str | None:
    """The lowest free host address of ``cidr``, skipping the reserved ones; None when full."""
    net, _ = parse_cidr(cidr)
    if net is None:
        return None
    taken = set(used)
    first = int(net.network_address) + RESERVED_HOSTS
    last = int(net.broadcast_address) - 1
    for n in range(first, last + 1):
        candidate = str(ipaddress.IPv4Address(n))
        if candidate not in taken:
            return candidate
    return None


# ---------------------------------------------------------------- static checks

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DNS_LABEL_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_SG_NAME_RE = re.compile(r"^[A-Za-z0-9 ._-]{1,255}$")

Check = Callable[[str, Any], list[Problem]]


def find_image(name_or_id: str) -> Image | None:
    return next((i for i in IMAGES if name_or_id in (i.name, i.id)), None)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _invalid(attr: str, detail: str) -> list[Problem]:
    return [Problem((attr,), f"Invalid {attr}", detail)]


def _one_of(allowed: Iterable[str], what: str) -> Check:
    names = tuple(allowed)

    def check(attr: str, value: Any) -> list[Problem]:
        if value in names:
            return []
        return _invalid(attr, f"{value!r} is not a known {what}; use one of: {', '.join(names)}.")

    return check


def _in_range(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _between(low: int, high: int) -> Check:
    def check(attr: str, value: Any) -> list[Problem]:
        return (
            [] if _in_range(value, low, high) else _invalid(attr, f"{value!r} must be from {low} to {high}.")
        )

    return check


def _cidr(attr: str, value: Any) -> list[Problem]:
    net, reason = parse_cidr(value)
    if net is None:
        return _invalid(attr, reason)
    low, high = NETWORK_PREFIXES
    if not low <= net.prefixlen <= high:
        return _invalid(attr, f"{value} has a /{net.prefixlen} prefix; use /{low} to /{high}.")
    return []


def _named(pattern: re.Pattern[str], max_len: int, rule: str) -> Check:
    def check(attr: str, value: Any) -> list[Problem]:
        if len(value) <= max_len and pattern.match(value) and "--" not in value:
            return []
        return _invalid(attr, f"{value!r} is not valid: {rule}.")

    return check


def _image(attr: str, value: Any) -> list[Problem]:
    if find_image(value) is not None:
        return []
    names = ", ".join(i.name for i in IMAGES)
    return [Problem((attr,), "Unknown image", f"no image is named {value!r}; images: {names}.")]


def _not_empty(attr: str, value: Any) -> list[Problem]:
    return [] if value else _invalid(attr, "give at least one subnet.")


def _tags(attr: str, tags: Any) -> list[Problem]:
    if len(tags) > 50:
        return _invalid(attr, f"{len(tags)} tags given; at most 50 are allowed.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.startswith("sandbox:"):
            return _invalid(attr, f"tag key {key!r} must be 1-128 characters and not start with 'sandbox:'.")
        if isinstance(value, str) and len(value) > 256:
            return _invalid(attr, f"the value of tag {key!r} is longer than 256 characters.")
    return []


def _rules(block: str, rules: Any) -> list[Problem]:
    problems: list[Problem] = []
    for rule in rules:
        protocol, low, high = rule.get("protocol"), rule.get("from_port"), rule.get("to_port")
        details: list[str] = []
        if protocol is not None and protocol not in PROTOCOLS:
            details.append(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}.")
        for name, port in (("from_port", low), ("to_port", high)):
            if port is not None and not _in_range(port, 0, 65535):
                details.append(f"{name} {port!r} must be a port number from 0 to 65535.")
        if _in_range(low, 0, 65535) and _in_range(high, 0, 65535) and low > high:
            details.append(f"from_port {low} is greater than to_port {high}.")
        for cidr in rule.get("cidr_blocks") or ():
            if cidr is not None and parse_cidr(cidr)[0] is None:
                details.append(f"cidr_blocks: {parse_cidr(cidr)[1]}.")
        problems += [Problem((block,), f"Invalid {block} rule", d) for d in details]
    return problems


_BUCKET_RULE = (
    "use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
)
_LABEL_RULE = "use lowercase letters, digits and single hyphens, starting with a letter"

CHECKS: dict[str, dict[str, Check]] = {
    "sandbox_network": {"cidr_block": _cidr},
    "sandbox_subnet": {"cidr_block": _cidr, "zone": _one_of(ZONES, "zone")},
    "sandbox_security_group": {
        "name": _named(_SG_NAME_RE, 255, "use 1-255 letters, digits, spaces, . _ -"),
        "ingress": _rules,
        "egress": _rules,
    },
    "sandbox_instance": {
        "image": _image,
        "size": _one_of(SIZES, "size"),
        "boot_seconds": _between(0, 600),
    },
    "sandbox_bucket": {"name": _named(_BUCKET_RE, 63, _BUCKET_RULE), "acl": _one_of(BUCKET_ACLS, "ACL")},
    "sandbox_database": {
        "name": _named(_DNS_LABEL_RE, 63, "1-63 characters: " + _LABEL_RULE),
        "engine": _one_of(ENGINES, "database engine"),
        "size": _one_of(SIZES, "size"),
        "storage_gb": _between(20, 16384),
        "subnet_ids": _not_empty,
    },
    "sandbox_load_balancer": {
        "name": _named(_DNS_LABEL_RE, 32, "1-32 characters: " + _LABEL_RULE),
        "subnet_ids": _not_empty,
        "listener_port": _between(1, 65535),
    },
    "sandbox_image": {"name": _image},
}


def validate_config(type_name: str, config: Mapping[str, Any]) -> list[Problem]:
    """Checks that need nothing but the configuration; ``config`` holds only known values."""
    checks = {"tags": _tags, **CHECKS.get(type_name, {})}
    problems: list[Problem] = []
    for name, check in checks.items():
        if config.get(name) is not None:
            problems += check(name, config[name])
    engine, version = config.get("engine"), config.get("version")
    if type_name == "sandbox_database" and engine in ENGINES and version is not None:
        problems += _one_of(ENGINES[engine], f"{engine} version")("version", version)
    return problems


def validate_update(type_name: str, prior: Mapping[str, Any], planned: Mapping[str, Any]) -> list[Problem]:
    """Changes a resource refuses in place (a database never shrinks or downgrades)."""
    problems: list[Problem] = []
    if type_name != "sandbox_database":
        return problems
    old, new = prior.get("version"), planned.get("version")
    if isinstance(old, str) and isinstance(new, str) and version_key(new) < version_key(old):
        detail = f"version cannot go from {old} down to {new}; create a new database to downgrade."
        problems.append(Problem(("version",), "Invalid version", detail))
    old_gb, new_gb = prior.get("storage_gb"), planned.get("storage_gb")
    if isinstance(old_gb, int | float) and isinstance(new_gb, int | float) and new_gb < old_gb:
        detail = f"storage_gb cannot shrink from {old_gb} to {new_gb}."
        problems.append(Problem(("storage_gb",), "Invalid storage_gb", detail))
    return problems


# ---------------------------------------------------------------- store bookkeeping


def references(type_name: str, attributes: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """``(attribute, target id, is_dependency)`` for every id the resource refers to."""
    spec = RESOURCE_TYPES.get(type_name)
    if spec is None:
        return []
    found: list[tuple[str, str, bool]] = []
    for attr in spec.attributes:
        if attr.reference is None:
            continue
        value = attributes.get(attr.name)
        targets = value if isinstance(value, list) else [value]
        found += [(attr.name, t, attr.dependency) for t in targets if isinstance(t, str) and t]
    return sorted(set(found))


def unique_key(type_name: str, attributes: Mapping[str, Any]) -> str | None:
    """A key no two resources may share (bucket names are global), or None."""
    if type_name == "sandbox_bucket" and isinstance(attributes.get("name"), str):
        return f"bucket:{attributes['name']}"
    return None


def arn(spec: TypeSpec, resource_id: str, attributes: Mapping[str, Any]) -> str:
    if spec.name == "sandbox_bucket":
        return f"arn:sandbox:storage:::{attributes.get('name')}"
    kind = spec.name.removeprefix("sandbox_").replace("_", "-")
    return f"arn:sandbox:{spec.service}:{REGION}:{ACCOUNT_ID}:{kind}/{resource_id}"


def computed_on_create(spec: TypeSpec, resource_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Values the cloud assigns at creation (everything but allocated addresses)."""
    suffix = resource_id.split("-", 1)[-1]
    values: dict[str, Any] = {"arn": arn(spec, resource_id, attributes)}
    if spec.name == "sandbox_bucket":
        values["url"] = f"https://{attributes.get('name')}.storage.{REGION}.sandbox.internal"
    elif spec.name == "sandbox_load_balancer":
        name = attributes.get("name") or values.setdefault("name", f"lb-{suffix[:8]}")
        values["dns_name"] = f"{name}-{suffix}.{REGION}.lb.sandbox.internal"
    elif spec.name == "sandbox_database":
        engine = str(attributes.get("engine"))
        name = attributes.get("name") or values.setdefault("name", f"db-{suffix[:8]}")
        values["endpoint"] = f"{name}.{suffix}.{REGION}.db.sandbox.internal"
        values["port"] = ENGINE_PORTS.get(engine, 5432)
        if attributes.get("version") is None:
            values["version"] = max(ENGINES.get(engine, ("",)), key=version_key)
    elif spec.name == "sandbox_instance":
        values["status"] = "running"
    for attr in spec.attributes:
        if attr.has_default and attributes.get(attr.name) is None:
            values[attr.name] = attr.default
    return values


def complete(spec: TypeSpec, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Every schema field present (null when unset), rules normalised; ``id`` is not stored."""
    out: dict[str, Any] = {}
    for attr in spec.attributes:
        if attr.name != "id":
            out[attr.name] = attributes.get(attr.name)
    for block in spec.blocks:
        rules = attributes.get(block.name) or []
        out[block.name] = [{a.name: rule.get(a.name) for a in block.attributes} for rule in rules]
    return out


# ---------------------------------------------------------------- value types (console edits)


def _kind_ok(kind: Kind, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("string_list", "string_set"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


_KIND_WORDS = {
    "string": "a string",
    "number": "a number",
    "bool": "true or false",
    "string_list": "a list of strings",
    "string_set": "a list of strings",
    "string_map": "an object of strings",
}


def check_value(spec: TypeSpec, name: str, value: Any) -> str | None:
    """Why ``value`` cannot be stored in field ``name`` of ``spec``, or None when it can."""
    if name == "id":
        return "id is assigned by the cloud and cannot be changed"
    attr = spec.attribute(name)
    block = spec.block(name)
    if attr is None and block is None:
        return f"{spec.name} has no attribute {name!r}; attributes: {', '.join(spec.field_names)}"
    if value is None:
        return "is required and cannot be null" if attr is not None and attr.required else None
    if attr is not None:
        return None if _kind_ok(attr.kind, value) else f"must be {_KIND_WORDS[attr.kind]}"
    assert block is not None
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        return "must be a list of rule objects"
    for rule in value:
        for key, item in rule.items():
            sub = next((a for a in block.attributes if a.name == key), None)
            if sub is None:
                return f"rules have no field {key!r}"
            if item is None and sub.required:
                return f"rule field {key!r} is required"
            if item is not None and not _kind_ok(sub.kind, item):
                return f"rule field {key!r} must be {_KIND_WORDS[sub.kind]}"
        missing = [a.name for a in block.attributes if a.required and a.name not in rule]
        if missing:
            return f"rule field {missing[0]!r} is required"
    return None
