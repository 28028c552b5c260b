"""The ``citymap`` command: set-up, imports, exports, assignment, analyses and serving.

The root lives in ``webmap`` because two of its commands need the web side (``serve``
and ``hotspots --map``), and ``geo`` never imports ``webmap``. Each group of commands
is a module of its own; every command is handed a :class:`~webmap.cli.context.CliContext`
and calls the use cases of ``geo``. Errors are printed as one line naming what was
wrong, never a traceback.
"""

from __future__ import annotations

import click

from geo.settings import load_settings
from webmap.cli import commands, grid, hotspots, notify, route, serve, workflow
from webmap.cli.context import CliContext, one_line_errors

__all__ = ["main"]


@click.group()
@click.option("--database-url", envvar="CITYMAP_DATABASE_URL", default=None,
              help="SQLAlchemy URL; default: the SpatiaLite file under CITYMAP_DATA_DIR.")
@click.pass_context
@one_line_errors
def main(ctx: click.Context, database_url: str | None) -> None:
    """citymap: city-management issues on maps (金桥街道 and any sub-district like it)."""
    ctx.obj = CliContext(load_settings({"database_url": database_url} if database_url else None))


for _command in (commands.init_db_cmd, commands.load_sample_cmd, commands.import_cmd, commands.assign_cmd,
                 commands.export_cmd, commands.greening_group, commands.calendar_group, commands.api_key_group,
                 commands.user_group, grid.grid_group, serve.serve_cmd, serve.demo_cmd, route.route, workflow.report_cmd,
                 workflow.purge_tracks_cmd, workflow.tracks_import_cmd, hotspots.hotspots_cmd,
                 notify.notify_group):
    main.add_command(_command)
