"""``board3 demo``: the drift loop, offline, in about a minute."""

from __future__ import annotations

from pathlib import Path

import click

from app.config import get_settings


@click.command()
@click.option(
    "--url", default=None, help="A running Board3 to use (default: BOARD3_HOST:BOARD3_PORT if one answers)."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data dir of the server the demo starts when none answers (default: <BOARD3_DATA_DIR>/demo).",
)
@click.option("--keep", is_flag=True, help="Leave the server the demo started running.")
def demo(url: str | None, data_dir: Path | None, keep: bool) -> None:
    """Design, pipeline, apply, a change made outside Terraform, a drift check naming it, accepting
    it into the design, and a plan with nothing to do: the sandbox cloud and the real terraform,
    no network. Starts (and stops) an embedded Board3 unless one is running."""
    from app.drift.demo import DemoFailed, main

    try:
        main(url, data_dir or get_settings().data_dir / "demo", keep, say=lambda text: click.echo(text))
    except DemoFailed as exc:
        raise click.ClickException(str(exc)) from None
