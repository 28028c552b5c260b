"""The ``citymap`` command: set-up, imports, exports, assignment and serving.

Every command reads its settings (``CITYMAP_*`` variables, ``CITYMAP_CONFIG``) when it
runs. Errors are printed as one line naming what was wrong, never a traceback.
"""

from __future__ import annotations

import functools
import ipaddress
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from geo.errors import CitymapError, ConfigError, ImportRejected
from geo.settings import DEV_SECRET_KEY, Settings, load_settings

LAYER_KINDS = ("communities", "compounds", "grids", "zones", "unit_cells", "roads")


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _engine(ctx: click.Context):
    from geo.db import make_engine

    if "engine" not in ctx.obj:
        s = _settings(ctx)
        ctx.obj["engine"] = make_engine(s.resolved_database_url, busy_timeout_ms=s.sqlite_busy_timeout_ms,
                                        postgis_parallel_workers=s.postgis_parallel_workers)
    return ctx.obj["engine"]


def _one_line_errors(func):
    """Turn citymap's errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ImportRejected as err:
            for row_error in err.errors[:50]:
                click.echo(f"  {row_error}", err=True)
            if len(err.errors) > 50:
                click.echo(f"  … and {len(err.errors) - 50} more", err=True)
            click.echo(f"error: {err.message}", err=True)
            sys.exit(1)
        except CitymapError as err:
            click.echo(f"error: {err.message}", err=True)
            sys.exit(1)
        except (SQLAlchemyError, OSError) as err:
            # the database or the file system refused: say which, in one line
            click.echo(f"error: {type(err).__name__}: {str(err).splitlines()[0]}", err=True)
            sys.exit(1)

    return wrapper


@click.group()
@click.option("--database-url", envvar="CITYMAP_DATABASE_URL", default=None,
              help="SQLAlchemy URL; default: the SpatiaLite file under CITYMAP_DATA_DIR.")
@click.pass_context
@_one_line_errors
def main(ctx: click.Context, database_url: str | None) -> None:
    """citymap: city-management issues on maps (金桥街道 and any sub-district like it)."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = load_settings({"database_url": database_url} if database_url else None)


@main.command("init-db")
@click.pass_context
@_one_line_errors
def init_db_cmd(ctx: click.Context) -> None:
    """Create the database (or bring its schema up to date)."""
    from geo.db import init_db, schema_revision

    engine = _engine(ctx)
    init_db(engine)
    click.echo(f"database ready at schema revision {schema_revision(engine)}: {engine.url.render_as_string()}")


@main.command("load-sample")
@click.option("--issues/--no-issues", default=True, help="Also load the simulated year of issues.")
@click.pass_context
@_one_line_errors
def load_sample_cmd(ctx: click.Context, issues: bool) -> None:
    """Load the (illustrative, not surveyed) Jinqiao sample layers and issues."""
    from geo import ingest
    from geo.db import init_db

    engine, settings = _engine(ctx), _settings(ctx)
    init_db(engine)
    counts = ingest.load_layer_dir(engine, settings.sample_dir)
    click.echo("layers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if issues:
        report = ingest.import_issue_file(
            engine, settings.sample_dir / "issues" / "jinqiao_2025_issues.csv",
            jurisdiction_code=settings.jurisdiction_code, settings=settings, actor="load-sample", progress=True,
        )
        click.echo(report.summary())
    from geo.greening_pipeline import load_sample_greening

    n_plan, greening = load_sample_greening(engine, settings.sample_dir, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"greening plan: {n_plan} rows; {greening.summary()}")
    from geo.sample_inspections import load_sample_inspections

    n_units, n_tracks = load_sample_inspections(engine, settings.sample_dir, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"frontage units: {n_units}; inspections (tracks and check-ins): {n_tracks}")


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(("issues", *LAYER_KINDS)), default="issues", show_default=True)
@click.option("--coord-system", default="wgs84", show_default=True,
              help="wgs84, cgcs2000, gcj02 (AMap, Tencent), bd09 (Baidu) or EPSG:nnnn; a coord_system column overrides it.")
@click.option("--source", default="12345", show_default=True, help="Source of issues without a source column.")
@click.option("--strict", is_flag=True, help="Refuse the whole file if any row is bad.")
@click.pass_context
@_one_line_errors
def import_cmd(ctx: click.Context, path: Path, kind: str, coord_system: str, source: str, strict: bool) -> None:
    """Import issues (CSV, XLSX, GeoJSON, GeoPackage) or a reference layer (GeoJSON, GeoPackage, Shapefile)."""
    from geo import ingest

    engine, settings = _engine(ctx), _settings(ctx)
    if kind == "issues":
        report = ingest.import_issue_file(
            engine, path, jurisdiction_code=settings.jurisdiction_code, settings=settings,
            coord_system=coord_system, source=source, strict=strict, actor="cli", progress=True,
        )
        for row_error in report.errors[:50]:
            click.echo(f"  {row_error}", err=True)
        if len(report.errors) > 50:
            click.echo(f"  … and {len(report.errors) - 50} more", err=True)
        click.echo(report.summary())
    else:
        n = ingest.import_layer_file(engine, path, kind=kind, jurisdiction_code=settings.jurisdiction_code,
                                     settings=settings)
        click.echo(f"{kind}: {n} features loaded from {path}; run `citymap assign` to re-assign issues")


@main.command("assign")
@click.pass_context
@_one_line_errors
def assign_cmd(ctx: click.Context) -> None:
    """Recompute every issue's cell, segment, compound, community, grid, zone and department."""
    from geo import ingest

    settings = _settings(ctx)
    n = ingest.reassign_issues(_engine(ctx), jurisdiction_code=settings.jurisdiction_code, settings=settings)
    click.echo(f"{n} issues re-assigned")


@main.command("export")
@click.option("--layer", type=click.Choice(("issues", *LAYER_KINDS, "segments")), default="issues", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A .geojson or .gpkg file.")
@click.pass_context
@_one_line_errors
def export_cmd(ctx: click.Context, layer: str, out: Path) -> None:
    """Export issues (with their assignment columns, phones masked) or a layer."""
    from geo import ingest

    settings = _settings(ctx)
    n = ingest.export_layer(_engine(ctx), layer, out, jurisdiction_code=settings.jurisdiction_code)
    click.echo(f"{n} features written to {out}")


@main.group("greening")
def greening_group() -> None:
    """Greening of the priority roads (plan tasks 3 and 14): plans, work records, progress."""


@greening_group.command("progress")
@click.option("--road", default=None, help="Road name or id (default: every road with a plan).")
@click.option("--season", type=click.Choice(("spring", "summer", "autumn", "winter")), default=None)
@click.option("--year", type=int, default=None, help="Plan year (default: the latest with a plan).")
@click.option("--as-of", "as_of", default=None, help="Count work done up to this day, YYYY-MM-DD (default: today).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the tables to this .xlsx workbook.")
@click.pass_context
@_one_line_errors
def greening_progress_cmd(ctx: click.Context, road: str | None, season: str | None, year: int | None,
                          as_of: str | None, out: Path | None) -> None:
    """Print (and export) the share of planned length done per road and task, and what is overdue."""
    from geo import greening_pipeline as gp
    from geo.io import write_xlsx

    settings = _settings(ctx)
    view = gp.greening_view(_engine(ctx), jurisdiction_code=settings.jurisdiction_code, year=year, as_of=as_of,
                            road=road, season=season)
    sheets = gp.report_tables(view)
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
@click.pass_context
@_one_line_errors
def greening_import_cmd(ctx: click.Context, path: Path, strict: bool) -> None:
    """Import greening work records (CSV or XLSX); bad rows are listed and skipped."""
    from geo.greening_pipeline import import_greening_records

    settings = _settings(ctx)
    report = import_greening_records(_engine(ctx), path, jurisdiction_code=settings.jurisdiction_code, strict=strict)
    for row_error in report.errors[:50]:
        click.echo(f"  {row_error}", err=True)
    if len(report.errors) > 50:
        click.echo(f"  … and {len(report.errors) - 50} more", err=True)
    click.echo(report.summary())


@greening_group.command("import-plan")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, required=True, help="The plan year; its old plan is replaced.")
@click.pass_context
@_one_line_errors
def greening_import_plan_cmd(ctx: click.Context, path: Path, year: int) -> None:
    """Replace a year's greening work plan with a CSV or XLSX file (all rows good, or nothing)."""
    from geo.greening_pipeline import import_greening_plan

    settings = _settings(ctx)
    n = import_greening_plan(_engine(ctx), path, jurisdiction_code=settings.jurisdiction_code, year=year)
    click.echo(f"greening plan {year}: {n} rows loaded from {path}")


@main.group("calendar")
def calendar_group() -> None:
    """The working-day calendar: the years whose holidays are known, and loading a new year's notice."""


@calendar_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@_one_line_errors
def calendar_import_cmd(ctx: click.Context, path: Path) -> None:
    """Load a year's holidays and make-up working days (CSV or XLSX: 日期, 类型, 节日) from the State Council's notice.

    The years in the file replace what was loaded for them; deadlines that were
    counted Monday–Friday for want of the notice (provisional) are counted again.
    """
    from geo import ingest

    report = ingest.import_calendar_file(_engine(ctx), path, settings=_settings(ctx))
    click.echo(f"{report.file}: {report.days} days of {', '.join(map(str, report.years))} loaded; "
               f"{report.recomputed} provisional deadlines counted again")


@calendar_group.command("show")
@click.pass_context
@_one_line_errors
def calendar_show_cmd(ctx: click.Context) -> None:
    """Print the years whose holidays are known; later years count Monday–Friday (provisional)."""
    from geo import ingest, workdays

    ingest.use_office_calendar(_engine(ctx))
    years = workdays.known_years()
    click.echo(f"known years: {years[0]}–{years[-1]}" if years == tuple(range(years[0], years[-1] + 1))
               else f"known years: {', '.join(map(str, years))}")


@main.group("api-key")
def api_key_group() -> None:
    """Keys that let other systems use the Open311 and OGC APIs as one of our users."""


@api_key_group.command("create")
@click.argument("name")
@click.option("--user", "user", default=None,
              help="The user the key acts as (reads what its role reads); without one the key only submits.")
@click.pass_context
@_one_line_errors
def api_key_create_cmd(ctx: click.Context, name: str, user: str | None) -> None:
    """Create an API key called NAME; the key is printed once, on the last line."""
    from geo import store

    settings = _settings(ctx)
    key = store.create_api_key(_engine(ctx), name, jurisdiction_code=settings.jurisdiction_code, user=user)
    owner = f"acting as user {user!r}" if user else "without a user: it submits Open311 requests and reads no issue"
    click.echo(f"API key {name!r} created, {owner}; only its SHA-256 is stored, so keep the key now:")
    click.echo(key)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
@_one_line_errors
def serve_cmd(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web app on the configured database (on an address others reach, only with a secret_key of its own)."""
    _serve(_settings(ctx), host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import gc

    from waitress import serve

    from webmap.app import create_app

    if settings.secret_key == DEV_SECRET_KEY and not _is_loopback(host):
        # the published key would let anyone who can reach the server sign a session cookie of their own
        raise ConfigError(f"refusing to serve on {host!r} with the development secret key: set CITYMAP_SECRET_KEY "
                          "(or secret_key in the CITYMAP_CONFIG file) to a long random value, e.g. the output of "
                          "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    app = create_app(settings)
    # What exists now (modules, the app) lives as long as the process: kept out of the
    # collector's full passes, which walked it all every few dozen 1,000-issue pages and
    # made their p99 (in process, 120k issues: 95 -> 17 ms).
    gc.freeze()
    click.echo(f"citymap serving on http://{host}:{port}/  (Ctrl+C stops)")
    serve(app, host=host, port=port, threads=8)


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is reached from this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@main.command("demo")
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
@_one_line_errors
def demo_cmd(ctx: click.Context, port: int) -> None:
    """Create the embedded database, load the Jinqiao sample if it is empty, and serve it."""
    from geo import store
    from geo.db import init_db

    engine, settings = _engine(ctx), _settings(ctx)
    init_db(engine)
    if store.count_rows(engine, "jurisdictions", jurisdiction_code=settings.jurisdiction_code) == 0:
        ctx.invoke(load_sample_cmd, issues=True)
        from geo import users
        from geo.clock import local_now

        # Demo-only accounts with a published password, so that the demo can be logged in to at once;
        # a real deployment creates its users with `citymap user create`.
        for name, role, department in DEMO_ACCOUNTS:
            store.create_user(engine, name=name, password_hash=users.hash_password(DEMO_PASSWORD), role=role,
                              department_code=department, jurisdiction_code=settings.jurisdiction_code,
                              now=local_now())
    else:
        click.echo("sample already loaded; `make clean` starts afresh")
    click.echo("demo accounts (password " + DEMO_PASSWORD + "): " + ", ".join(f"{n} ({r})" for n, r, _ in DEMO_ACCOUNTS))
    _serve(settings, "127.0.0.1", port)


DEMO_PASSWORD = "jinqiao-demo"
DEMO_ACCOUNTS = (("supervisor", "supervisor", None), ("dispatcher", "dispatcher", None),
                 ("sanitation", "department", "sanitation"), ("citizen", "public", None))


@main.group("user")
def user_group() -> None:
    """People who log in to the web pages."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", required=True, help="supervisor, dispatcher, department, public or admin (geo/data/roles.csv).")
@click.option("--department", "department", default=None, help="Department code; required for the department role.")
@click.option("--password", default=None, help="The password (prompted, hidden, if not given).")
@click.pass_context
@_one_line_errors
def user_create_cmd(ctx: click.Context, name: str, role: str, department: str | None, password: str | None) -> None:
    """Create a user NAME with a role (and a department for department users)."""
    from geo import store, users
    from geo.clock import local_now

    name, role, department = users.check_account(name, role, department)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = _settings(ctx)
    user_id = store.create_user(_engine(ctx), name=name, password_hash=users.hash_password(password), role=role,
                                department_code=department, jurisdiction_code=settings.jurisdiction_code,
                                now=local_now())
    click.echo(f"user {name!r} created (id {user_id}, role {role}{f', department {department}' if department else ''})")


@user_group.command("password")
@click.argument("name")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the new password from this file's first line (default: standard input's first line, "
                   "or a hidden prompt on a terminal).")
@click.pass_context
@_one_line_errors
def user_password_cmd(ctx: click.Context, name: str, password_file: Path | None) -> None:
    """Set a new password for user NAME (10 characters at least, not a common one); its logins end."""
    from geo import store, users

    if password_file is not None:
        password = next(iter(password_file.read_text(encoding="utf-8").splitlines()), "")
    elif sys.stdin.isatty():
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    ended = store.set_password(_engine(ctx), name, password_hash=users.hash_password(password),
                               jurisdiction_code=_settings(ctx).jurisdiction_code)
    click.echo(f"password of user {name!r} changed; {ended} login(s) ended")


# The route group lives in its own module; imported last because it uses the helpers above.
from geo.cli_route import route

main.add_command(route)

# The closed-loop commands (weekly report, inspection tracks) live in their own module, like the route group.
from geo.cli_workflow import purge_tracks_cmd, report_cmd, tracks_import_cmd

for _command in (report_cmd, purge_tracks_cmd, tracks_import_cmd):
    main.add_command(_command)

# `citymap hotspots` (Gi* per unit cell, optional standalone map) lives in its own module too.
from geo.cli_hotspots import hotspots_cmd

main.add_command(hotspots_cmd)
