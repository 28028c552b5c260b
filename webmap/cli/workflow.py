"""``citymap report``, ``citymap purge-tracks``, ``citymap import-tracks``: the closed loop's commands.

Registered on :data:`webmap.cli.main`, like the route group.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from webmap.cli.context import CliContext, one_line_errors, pass_cli


@click.command("report")
@click.option("--week", required=True, help="ISO week, e.g. 2025-W50.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .xlsx to write.")
@click.option("--now", "now_text", default=None,
              help="When backlog and overdue are judged (YYYY-MM-DD HH:MM); default: the end of the week or "
                   "the present, whichever is earlier.")
@pass_cli
@one_line_errors
def report_cmd(cli: CliContext, week: str, out: Path, now_text: str | None) -> None:
    """Write the leadership group's weekly report (tables and a map) as an Excel workbook."""
    from geo.clock import local_now
    from geo.loop.weekly import parse_week, weekly_report
    from webmap.figures import write_weekly_workbook

    _start, end = parse_week(week)
    now = _parse_now(now_text) if now_text else min(end, local_now())
    path = write_weekly_workbook(weekly_report(cli.engine, cli.settings, week=week, now=now), out)
    click.echo(f"weekly report {week} written to {path}")


def _parse_now(text: str) -> datetime:
    from geo.errors import ValidationError

    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"--now {text!r} is not a date and time such as 2025-12-31 18:00") from exc


@click.command("purge-tracks")
@click.option("--days", type=int, default=None, help="Retention in days; default: the track_retention_days setting.")
@pass_cli
@one_line_errors
def purge_tracks_cmd(cli: CliContext, days: int | None) -> None:
    """Delete inspection tracks and check-ins older than the retention (personal information, PIPL)."""
    from geo import store
    from geo.clock import local_now
    from geo.errors import ValidationError

    settings = cli.settings
    keep = settings.track_retention_days if days is None else days
    if keep < 0:
        raise ValidationError(f"--days {keep!r} must not be negative")
    before = local_now() - timedelta(days=keep)
    n = store.purge_inspections(cli.engine, before=before, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"{n} inspections that ended before {before:%Y-%m-%d %H:%M} deleted")


@click.command("import-tracks")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--team", required=True, help="The team's department code, e.g. sanitation_west.")
@click.option("--actor", required=True, help="Who walked or drove it.")
@pass_cli
@one_line_errors
def tracks_import_cmd(cli: CliContext, path: Path, team: str, actor: str) -> None:
    """Import inspection tracks and check-ins from a GPX or GeoJSON file."""
    from geo import store
    from geo.io import read_inspection_file

    settings = cli.settings
    frame = read_inspection_file(path, team=team, actor=actor)
    n = store.insert_inspections(cli.engine, frame, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"{path.name}: {n} inspections loaded")
