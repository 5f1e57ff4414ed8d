"""The sandbox cloud's resource types: one ``TypeSpec`` per type, the single source of truth.

The provider's Terraform schema, the store's reference bookkeeping and the console's attribute
checks are all derived from these. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

REGION = "sandbox-1"
ZONES = ("sandbox-1a", "sandbox-1b", "sandbox-1c")
ACCOUNT_ID = "000000000000"
SIZES = ("nano", "micro", "small", "medium", "large", "xlarge")
ENGINES: dict[str, tuple[str, ...]] = {
    "postgres": ("14", "15", "16", "17"),
    "mysql": ("8.0", "8.4"),
    "mariadb": ("10.11", "11.4"),
}
ENGINE_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
BUCKET_ACLS = ("private", "public-read")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
NETWORK_PREFIXES = (16, 28)
RESERVED_HOSTS = 4
"""Addresses reserved at the start of every subnet (network, router, DNS, future), as in AWS."""


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    os: str
    architecture: str
    description: str


IMAGES = (
    Image("img-0b5d3c1e8a4f7a201", "ubuntu-24.04", "linux", "x86_64", "Ubuntu 24.04 LTS (Noble Numbat)"),
    Image("img-07f1a2b3c4d5e6f02", "debian-12", "linux", "x86_64", "Debian 12 (Bookworm)"),
    Image("img-0a9e8d7c6b5a4f303", "alpine-3.20", "linux", "x86_64", "Alpine Linux 3.20"),
    Image("img-0c1d2e3f4a5b6c704", "amazon-linux-2023", "linux", "x86_64", "Amazon Linux 2023"),
    Image("img-0d4c3b2a1f0e9d805", "windows-2022", "windows", "x86_64", "Windows Server 2022 Datacenter"),
)

Kind = Literal["string", "number", "bool", "string_list", "string_set", "string_map"]
_UNSET: Any = object()


@dataclass(frozen=True)
class AttrSpec:
    """One attribute. ``replace``: a change forces replacement; otherwise it updates in place.

    ``reference`` names the resource type whose id the attribute holds; ``dependency`` marks
    references that contain the resource (a subnet in its network), which block deleting the target.
    """

    name: str
    kind: Kind
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    replace: bool = False
    default: Any = _UNSET
    reference: str | None = None
    dependency: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET

    @property
    def configurable(self) -> bool:
        return self.required or self.optional


@dataclass(frozen=True)
class BlockSpec:
    """A repeatable nested block (Terraform set nesting), such as a security group rule."""

    name: str
    description: str
    attributes: tuple[AttrSpec, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    id_prefix: str
    service: str
    description: str
    attributes: tuple[AttrSpec, ...]
    blocks: tuple[BlockSpec, ...] = field(default=())

    def attribute(self, name: str) -> AttrSpec | None:
        return next((a for a in self.attributes if a.name == name), None)

    def block(self, name: str) -> BlockSpec | None:
        return next((b for b in self.blocks if b.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes) + tuple(b.name for b in self.blocks)


def _id() -> AttrSpec:
    return AttrSpec("id", "string", "Identifier assigned by the sandbox cloud.", computed=True)


def _arn() -> AttrSpec:
    return AttrSpec("arn", "string", "Sandbox resource name, unique across the cloud.", computed=True)


def _size() -> AttrSpec:
    return AttrSpec(
        "size",
        "string",
        f"One of {', '.join(SIZES)}; resized in place.",
        optional=True,
        computed=True,
        default="small",
    )


def _tags() -> AttrSpec:
    return AttrSpec("tags", "string_map", "Key/value labels (at most 50).", optional=True)


def _inside(name: str, kind: Kind, target: str, description: str) -> AttrSpec:
    """The resource(s) this one lives in: required, fixed for life, and they cannot be deleted first."""
    return AttrSpec(name, kind, description, required=True, replace=True, reference=target, dependency=True)


def _attached(name: str, kind: Kind, target: str, description: str) -> AttrSpec:
    """Optional links to other resources, changed in place; they do not hold their targets."""
    return AttrSpec(name, kind, description, optional=True, reference=target)


def _generated_name(description: str) -> AttrSpec:
    return AttrSpec("name", "string", description, optional=True, computed=True, replace=True)


_RULE_ATTRIBUTES = (
    AttrSpec("protocol", "string", "tcp, udp, icmp or all.", required=True),
    AttrSpec("from_port", "number", "First port of the range (0-65535).", required=True),
    AttrSpec("to_port", "number", "Last port of the range (from_port-65535).", required=True),
    AttrSpec("cidr_blocks", "string_list", "Peer IPv4 CIDR blocks.", optional=True),
    AttrSpec("description", "string", "Free text.", optional=True),
)

NETWORK = TypeSpec(
    name="sandbox_network",
    id_prefix="net",
    service="network",
    description="An isolated virtual network with an IPv4 address range.",
    attributes=(
        _id(),
        AttrSpec(
            "cidr_block", "string", "IPv4 range, /16 to /28, e.g. 10.0.0.0/16.", required=True, replace=True
        ),
        _tags(),
        _arn(),
    ),
)

SUBNET = TypeSpec(
    name="sandbox_subnet",
    id_prefix="subnet",
    service="network",
    description="A range of a network's addresses in one zone.",
    attributes=(
        _id(),
        _inside("network_id", "string", "sandbox_network", "The network this subnet belongs to."),
        AttrSpec(
            "cidr_block",
            "string",
            "IPv4 range inside the network's, not overlapping its other subnets.",
            required=True,
            replace=True,
        ),
        AttrSpec(
            "zone",
            "string",
            f"Availability zone: one of {', '.join(ZONES)}.",
            optional=True,
            computed=True,
            replace=True,
            default=ZONES[0],
        ),
        _tags(),
        _arn(),
    ),
)

SECURITY_GROUP = TypeSpec(
    name="sandbox_security_group",
    id_prefix="sg",
    service="network",
    description="A stateful firewall attached to instances.",
    attributes=(
        _id(),
        AttrSpec("name", "string", "Name (letters, digits, space, . _ -).", required=True, replace=True),
        _inside("network_id", "string", "sandbox_network", "The network this group belongs to."),
        _tags(),
        _arn(),
    ),
    blocks=(
        BlockSpec("ingress", "Inbound traffic rule (repeatable).", _RULE_ATTRIBUTES),
        BlockSpec("egress", "Outbound traffic rule (repeatable).", _RULE_ATTRIBUTES),
    ),
)

INSTANCE = TypeSpec(
    name="sandbox_instance",
    id_prefix="i",
    service="compute",
    description="A virtual machine in a subnet.",
    attributes=(
        _id(),
        _inside(
            "subnet_id", "string", "sandbox_subnet", "The subnet the instance's network interface is in."
        ),
        AttrSpec(
            "image",
            "string",
            "Image name or id (see data source sandbox_image).",
            required=True,
            replace=True,
        ),
        _size(),
        _attached(
            "security_group_ids",
            "string_set",
            "sandbox_security_group",
            "Security groups of the instance's network.",
        ),
        AttrSpec(
            "boot_seconds",
            "number",
            "Seconds creation takes (0-600), to simulate a slow cloud.",
            optional=True,
        ),
        _tags(),
        AttrSpec("private_ip", "string", "Address allocated from the subnet.", computed=True),
        AttrSpec("status", "string", "running, stopped, ...", computed=True),
        _arn(),
    ),
)

BUCKET = TypeSpec(
    name="sandbox_bucket",
    id_prefix="bkt",
    service="storage",
    description="An object storage bucket; its name is unique across the sandbox cloud.",
    attributes=(
        _id(),
        AttrSpec(
            "name",
            "string",
            "Globally unique: 3-63 lowercase letters, digits, dots and hyphens.",
            required=True,
            replace=True,
        ),
        AttrSpec("versioning", "bool", "Keep object versions.", optional=True, computed=True, default=False),
        AttrSpec(
            "acl",
            "string",
            "private or public-read.",
            optional=True,
            computed=True,
            default="private",
        ),
        _tags(),
        AttrSpec("url", "string", "HTTPS endpoint of the bucket.", computed=True),
        _arn(),
    ),
)

DATABASE = TypeSpec(
    name="sandbox_database",
    id_prefix="db",
    service="database",
    description="A managed relational database.",
    attributes=(
        _id(),
        _generated_name("Identifier: lowercase letters, digits, hyphens; generated when not given."),
        AttrSpec("engine", "string", f"One of {', '.join(ENGINES)}.", required=True, replace=True),
        AttrSpec(
            "version",
            "string",
            "Engine version (default: the newest); upgraded in place, never downgraded.",
            optional=True,
            computed=True,
        ),
        _size(),
        AttrSpec(
            "storage_gb",
            "number",
            "Allocated storage, 20-16384 GiB; grows in place, never shrinks.",
            optional=True,
            computed=True,
            default=20,
        ),
        _inside(
            "subnet_ids",
            "string_set",
            "sandbox_subnet",
            "Subnets (of one network) the database is reachable in.",
        ),
        _tags(),
        AttrSpec("endpoint", "string", "Host name clients connect to.", computed=True),
        AttrSpec("port", "number", "Port clients connect to.", computed=True),
        _arn(),
    ),
)

LOAD_BALANCER = TypeSpec(
    name="sandbox_load_balancer",
    id_prefix="lb",
    service="network",
    description="A load balancer spreading traffic over instances (or serving a bucket).",
    attributes=(
        _id(),
        _generated_name("1-32 lowercase letters, digits, hyphens; generated when not given."),
        _inside(
            "subnet_ids",
            "string_set",
            "sandbox_subnet",
            "Subnets (of one network) the load balancer listens in.",
        ),
        _attached("instance_ids", "string_set", "sandbox_instance", "Instances receiving traffic."),
        _attached(
            "backend_bucket_id",
            "string",
            "sandbox_bucket",
            "A bucket served by the load balancer (static sites).",
        ),
        AttrSpec(
            "listener_port",
            "number",
            "Port the load balancer listens on.",
            optional=True,
            computed=True,
            default=80,
        ),
        _tags(),
        AttrSpec("dns_name", "string", "Public DNS name.", computed=True),
        _arn(),
    ),
)

IMAGE_DATA = TypeSpec(
    name="sandbox_image",
    id_prefix="img",
    service="compute",
    description="Looks up a machine image by name.",
    attributes=(
        AttrSpec("name", "string", "Image name, e.g. ubuntu-24.04.", required=True),
        _id(),
        AttrSpec("os", "string", "linux or windows.", computed=True),
        AttrSpec("architecture", "string", "CPU architecture.", computed=True),
        AttrSpec("description", "string", "Human-readable description.", computed=True),
    ),
)

RESOURCE_TYPES: dict[str, TypeSpec] = {
    t.name: t for t in (NETWORK, SUBNET, SECURITY_GROUP, INSTANCE, BUCKET, DATABASE, LOAD_BALANCER)
}
DATA_SOURCES: dict[str, TypeSpec] = {IMAGE_DATA.name: IMAGE_DATA}
