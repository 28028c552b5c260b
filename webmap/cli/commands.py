"""``citymap init-db``, ``load-sample``, ``import``, ``assign``, ``export``, ``greening``, ``calendar``,
``api-key`` and ``user``: setting up a jurisdiction's database and moving data in and out of it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.layers import reference_layers
from webmap.cli.context import CliContext, echo_row_errors, one_line_errors, pass_cli
from webmap.cli.layer_flags import layer_flags

#: the layers ``citymap import --kind`` takes (segments are cut from the roads, the jurisdiction comes with its layers)
IMPORTED_LAYERS = tuple(spec.name for spec in reference_layers() if spec.name != "segments")


@click.command("init-db")
@pass_cli
@one_line_errors
def init_db_cmd(cli: CliContext) -> None:
    """Create the database (or bring its schema up to date)."""
    from geo.store.db import init_db, schema_revision

    engine = cli.engine
    init_db(engine)
    click.echo(f"database ready at schema revision {schema_revision(engine)}: {engine.url.render_as_string()}")


@click.command("load-sample")
@click.option("--issues/--no-issues", default=True, help="Also load the simulated year of issues.")
@pass_cli
@one_line_errors
def load_sample_cmd(cli: CliContext, issues: bool) -> None:
    """Load the (illustrative, not surveyed) Jinqiao sample layers and issues."""
    from geo.sample.load import load_sample

    for line in load_sample(cli.engine, cli.settings, issues=issues, progress=True).lines():
        click.echo(line)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(("issues", *IMPORTED_LAYERS)), default="issues", show_default=True)
@click.option("--coord-system", default="wgs84", show_default=True,
              help="wgs84, cgcs2000, gcj02 (AMap, Tencent), bd09 (Baidu) or EPSG:nnnn; a coord_system column overrides it.")
@click.option("--source", default="12345", show_default=True, help="Source of issues without a source column.")
@click.option("--strict", is_flag=True, help="Refuse the whole file if any row is bad.")
@layer_flags()
@pass_cli
@one_line_errors
def import_cmd(cli: CliContext, path: Path, kind: str, coord_system: str, source: str, strict: bool,
               layer_options: dict) -> None:
    """Import issues (CSV, XLSX, GeoJSON, GeoPackage) or a reference layer (GeoJSON, GeoPackage, Shapefile;
    roads also from an OpenStreetMap extract, .osm or .osm.pbf)."""
    from geo.io import ingest
    from geo.io.layer_fill import LayerOptions

    engine, settings = cli.engine, cli.settings
    if kind == "issues":
        report = ingest.import_issue_file(
            engine, path, jurisdiction_code=settings.jurisdiction_code, settings=settings,
            coord_system=coord_system, source=source, strict=strict, actor="cli", progress=True,
        )
        echo_row_errors(report.errors)
        click.echo(report.summary())
    else:
        layer_report = ingest.import_layer_file(engine, path, kind=kind, jurisdiction_code=settings.jurisdiction_code,
                                                settings=settings, options=LayerOptions(**layer_options), strict=strict)
        echo_row_errors(layer_report.batch.errors)
        for line in layer_report.lines(str(path)):
            click.echo(line)
        click.echo("run `citymap assign` to re-assign the stored issues to the new layer")


@click.command("assign")
@pass_cli
@one_line_errors
def assign_cmd(cli: CliContext) -> None:
    """Recompute every issue's cell, segment, compound, community, grid, zone and department."""
    from geo.io import ingest

    settings = cli.settings
    n = ingest.reassign_issues(cli.engine, jurisdiction_code=settings.jurisdiction_code, settings=settings)
    click.echo(f"{n} issues re-assigned")


@click.command("export")
@click.option("--layer", type=click.Choice(("issues", *(spec.name for spec in reference_layers()))), default="issues", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A .geojson or .gpkg file.")
@pass_cli
@one_line_errors
def export_cmd(cli: CliContext, layer: str, out: Path) -> None:
    """Export issues (with their assignment columns, phones masked) or a layer."""
    from geo.io import ingest

    settings = cli.settings
    n = ingest.export_layer(cli.engine, layer, out, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"{n} features written to {out}")


@click.group("greening")
def greening_group() -> None:
    """Greening of the priority roads (plan tasks 3 and 14): plans, work records, progress."""


@greening_group.command("progress")
@click.option("--road", default=None, help="Road name or id (default: every road with a plan).")
@click.option("--season", type=click.Choice(("spring", "summer", "autumn", "winter")), default=None)
@click.option("--year", type=int, default=None, help="Plan year (default: the latest with a plan).")
@click.option("--as-of", "as_of", default=None, help="Count work done up to this day, YYYY-MM-DD (default: today).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the tables to this .xlsx workbook.")
@pass_cli
@one_line_errors
def greening_progress_cmd(cli: CliContext, road: str | None, season: str | None, year: int | None,
                          as_of: str | None, out: Path | None) -> None:
    """Print (and export) the share of planned length done per road and task, and what is overdue."""
    from geo.greening import views as greening_views
    from geo.io import write_xlsx

    settings = cli.settings
    view = greening_views.greening_view(cli.engine, jurisdiction_code=settings.jurisdiction_code, year=year, as_of=as_of,
                            road=road, season=season)
    sheets = greening_views.report_tables(view)
    click.echo(f"绿化进度 {view.year} 年，截至 {view.as_of:%Y-%m-%d}")
    click.echo(sheets["进度"].to_string(index=False))
    if not view.clipped.empty:
        click.echo(f"{len(view.clipped)} 条记录超出道路范围，已裁剪或忽略（见导出表“超出范围”）")
    if out is not None:
        write_xlsx(sheets, out)
        click.echo(f"written to {out}")


@greening_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Refuse the whole file if any row is bad.")
@pass_cli
@one_line_errors
def greening_import_cmd(cli: CliContext, path: Path, strict: bool) -> None:
    """Import greening work records (CSV or XLSX); bad rows are listed and skipped."""
    from geo.greening.views import import_greening_records

    settings = cli.settings
    report = import_greening_records(cli.engine, path, jurisdiction_code=settings.jurisdiction_code, strict=strict)
    echo_row_errors(report.errors)
    click.echo(report.summary())


@greening_group.command("import-plan")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, required=True, help="The plan year; its old plan is replaced.")
@pass_cli
@one_line_errors
def greening_import_plan_cmd(cli: CliContext, path: Path, year: int) -> None:
    """Replace a year's greening work plan with a CSV or XLSX file (all rows good, or nothing)."""
    from geo.greening.views import import_greening_plan

    settings = cli.settings
    n = import_greening_plan(cli.engine, path, jurisdiction_code=settings.jurisdiction_code, year=year)
    click.echo(f"greening plan {year}: {n} rows loaded from {path}")


@click.group("calendar")
def calendar_group() -> None:
    """The working-day calendar: the years whose holidays are known, and loading a new year's notice."""


@calendar_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
@one_line_errors
def calendar_import_cmd(cli: CliContext, path: Path) -> None:
    """Load a year's holidays and make-up working days (CSV or XLSX: 日期, 类型, 节日) from the State Council's notice.

    The years in the file replace what was loaded for them; deadlines that were
    counted Monday–Friday for want of the notice (provisional) are counted again.
    """
    from geo.io import ingest

    report = ingest.import_calendar_file(cli.engine, path, settings=cli.settings)
    click.echo(f"{report.file}: {report.days} days of {', '.join(map(str, report.years))} loaded; "
               f"{report.recomputed} provisional deadlines counted again")


@calendar_group.command("show")
@pass_cli
@one_line_errors
def calendar_show_cmd(cli: CliContext) -> None:
    """Print the years whose holidays are known; later years count Monday–Friday (provisional)."""
    from geo import workdays
    from geo.io import ingest

    ingest.use_office_calendar(cli.engine)
    years = workdays.known_years()
    click.echo(f"known years: {years[0]}–{years[-1]}" if years == tuple(range(years[0], years[-1] + 1))
               else f"known years: {', '.join(map(str, years))}")


@click.group("api-key")
def api_key_group() -> None:
    """Keys that let other systems use the Open311 and OGC APIs as one of our users."""


@api_key_group.command("create")
@click.argument("name")
@click.option("--user", "user", default=None,
              help="The user the key acts as (reads what its role reads); without one the key only submits.")
@pass_cli
@one_line_errors
def api_key_create_cmd(cli: CliContext, name: str, user: str | None) -> None:
    """Create an API key called NAME; the key is printed once, on the last line."""
    from geo import store

    settings = cli.settings
    key = store.create_api_key(cli.engine, name, jurisdiction_code=settings.jurisdiction_code, user=user)
    owner = f"acting as user {user!r}" if user else "without a user: it submits Open311 requests and reads no issue"
    click.echo(f"API key {name!r} created, {owner}; only its SHA-256 is stored, so keep the key now:")
    click.echo(key)


@click.group("user")
def user_group() -> None:
    """People who log in to the web pages."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", required=True, help="supervisor, dispatcher, department, public or admin (geo/data/roles.csv).")
@click.option("--department", "department", default=None, help="Department code; required for the department role.")
@click.option("--password", default=None, help="The password (prompted, hidden, if not given).")
@pass_cli
@one_line_errors
def user_create_cmd(cli: CliContext, name: str, role: str, department: str | None, password: str | None) -> None:
    """Create a user NAME with a role (and a department for department users)."""
    from geo import store
    from geo.clock import local_now
    from geo.loop import users

    name, role, department = users.check_account(name, role, department)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = cli.settings
    user_id = store.create_user(cli.engine, name=name, password_hash=users.hash_password(password), role=role,
                                department_code=department, jurisdiction_code=settings.jurisdiction_code,
                                now=local_now())
    click.echo(f"user {name!r} created (id {user_id}, role {role}{f', department {department}' if department else ''})")


@user_group.command("password")
@click.argument("name")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the new password from this file's first line (default: standard input's first line, "
                   "or a hidden prompt on a terminal).")
@pass_cli
@one_line_errors
def user_password_cmd(cli: CliContext, name: str, password_file: Path | None) -> None:
    """Set a new password for user NAME (10 characters at least, not a common one); its logins end."""
    from geo import store
    from geo.loop import users

    if password_file is not None:
        password = next(iter(password_file.read_text(encoding="utf-8").splitlines()), "")
    elif sys.stdin.isatty():
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    ended = store.set_password(cli.engine, name, password_hash=users.hash_password(password),
                               jurisdiction_code=cli.settings.jurisdiction_code)
    click.echo(f"password of user {name!r} changed; {ended} login(s) ended")


