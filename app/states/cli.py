"""``board3 keys ...``: master key operations (rotation, usage) for state encryption at rest."""

from __future__ import annotations

import click


@click.group("keys")
def keys() -> None:
    """Encryption master keys (BOARD3_ENCRYPTION_KEYS, the first one encrypts)."""


@keys.command("rotate")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
def rotate(batch_size: int) -> None:
    """Re-wrap every state version's data key under the active (first) master key.

    Only the small wrapped keys change, never the ciphertext. Idempotent and resumable: run it
    again after an interruption. Safe while servers run, provided they already have the new key
    first in BOARD3_ENCRYPTION_KEYS. Exits 1 if versions still depend on another key afterwards.
    """
    from app.db import run_with_database
    from app.lib import crypto
    from app.states import keys as key_ops

    ring = crypto.get_keyring()
    click.echo(f"active key: {ring.active.kid}; re-wrapping data keys of other keys", err=True)

    def progress(report: key_ops.RotationReport) -> None:
        click.echo(f"  re-wrapped {report.rewrapped}", err=True)

    try:
        report = run_with_database(lambda: key_ops.rotate(ring, batch_size=batch_size, progress=progress))
    except key_ops.KeyCheckFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"re-wrapped {report.rewrapped} data key(s); {report.remaining} still under other keys", err=True
    )
    if report.remaining:
        raise click.ClickException(
            "some versions are still wrapped by other keys: is a server running with an older active key? "
            "Give every process the new key first, then run `board3 keys rotate` again"
        )


@keys.command("status")
def status() -> None:
    """How many encrypted rows (state versions, sensitive variables, saved plans) each master key
    wraps (a key with none can be retired)."""
    from app.db import run_with_database
    from app.lib import crypto
    from app.states import keys as key_ops

    ring = crypto.get_keyring()
    usage = run_with_database(key_ops.usage)
    for kid in dict.fromkeys([*ring.key_ids, *usage]):
        marks = ["active"] if kid == ring.active.kid else []
        if kid not in ring.keys:
            marks.append("NOT CONFIGURED")
        suffix = f" ({', '.join(marks)})" if marks else ""
        click.echo(f"{kid}: {usage.get(kid, 0)} row(s){suffix}")


@keys.command("generate")
@click.argument("kid")
def generate(kid: str) -> None:
    """Print a new ``KID:base64key`` entry to put first in BOARD3_ENCRYPTION_KEYS."""
    from app.config import ConfigError
    from app.lib import crypto

    spec = crypto.new_key_spec(kid)
    try:
        crypto.parse_keys(spec)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="KID") from None
    click.echo(spec)
