"""``citymap route …``: pickup and sweep routes, and the TSPLIB benchmark of the tour core.

Registered on :data:`webmap.cli.main`; kept apart so the route options do not crowd the
main command file.
"""

from __future__ import annotations

from pathlib import Path

import click

from geo.errors import ValidationError
from webmap.cli.context import CliContext, echo_row_errors, one_line_errors, pass_cli
from webmap.cli.layer_flags import layer_flags


def _write_outputs(lines, extra_frames, out: Path, gpx: Path | None, stops=None) -> None:
    import geopandas as gpd
    import pandas as pd

    from geo.io import write_frame
    from geo.routing.output import routes_gpx

    frame = gpd.GeoDataFrame(pd.concat([lines.assign(kind="route"), *extra_frames], ignore_index=True),
                             geometry="geometry", crs=lines.crs)
    write_frame(frame, out)
    click.echo(f"route written to {out}")
    if gpx is not None:
        gpx.write_text(routes_gpx(lines, stops=stops), encoding="utf-8")
        click.echo(f"GPX written to {gpx}")


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ValidationError(f"depot {text!r}: expected LON,LAT in degrees, e.g. 117.3547,39.0904") from exc
    return lon, lat


@click.group("route")
def route() -> None:
    """Cleaning routes: pickups of piles, sweeping of streets, the TSPLIB benchmark."""


@route.command("pickup")
@click.option("--zone", required=True, help="Contractor zone code, e.g. sanitation_west.")
@click.option("--date", "on_date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Day planned (default today).")
# the choices are geo.routing.vrp.ISSUE_SETS (a test keeps them equal), written out so that `citymap --help`
# does not import the solver
@click.option("--set", "issue_set", type=click.Choice(("today", "open", "overdue", "chosen")), default="open",
              show_default=True, help="Pending pickups reported on the day, up to its end, due by its end, or chosen.")
@click.option("--issues", "chosen", default="", help="Comma-separated issue ids for --set chosen.")
@click.option("--vehicles", default=2, show_default=True, type=int)
@click.option("--capacity-m3", default=8.0, show_default=True, type=float)
@click.option("--shift-h", default=8.0, show_default=True, type=float)
@click.option("--speed-kmh", default=15.0, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--time-limit-s", default=3.0, show_default=True, type=float)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".geojson or .gpkg")
@click.option("--gpx", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_cli
@one_line_errors
def pickup_cmd(cli: CliContext, zone, on_date, issue_set, chosen, vehicles, capacity_m3, shift_h, speed_kmh, seed,
               time_limit_s, out, gpx) -> None:
    """Plan pickup routes for a zone's garbage and debris issues."""
    from geo.routing.output import format_turn_list, turn_list
    from geo.routing.views import zone_pickups

    try:
        ids = [int(v) for v in chosen.split(",") if v.strip()]
    except ValueError as exc:
        raise ValidationError(f"--issues {chosen!r}: expected comma-separated issue ids") from exc
    plan = zone_pickups(cli.engine, cli.settings, zone, issue_set=issue_set,
                        on_date=on_date.date() if on_date else None, chosen=ids, vehicles=vehicles,
                        capacity_m3=capacity_m3, shift_h=shift_h, speed_kmh=speed_kmh, seed=seed,
                        time_limit_s=time_limit_s)
    click.echo(format_turn_list(turn_list(plan.steps, speed_kmh=speed_kmh), stops=plan.stops))
    r = plan.routes
    click.echo(f"{len(plan.stops)} stops, {len(r)} vehicle(s), total {r['length_m'].sum():.0f} m, "
               f"longest shift {r['return_min'].max():.0f} min")
    _write_outputs(r, [plan.stops.assign(kind="stop")], out, gpx, stops=plan.stops)


@route.command("sweep")
@click.option("--roads", "roads_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A road centre-line file (GeoJSON / GeoPackage / Shapefile) or an OpenStreetMap extract "
                   "(.osm, .osm.pbf); only geometry is needed, the flags below say what the file does not.")
@click.option("--depot", required=True, help="LON,LAT (WGS84).")
@click.option("--required", "required_spec", default="all", show_default=True,
              help="'all' or column=value[,value…], e.g. road_class=alley.")
@click.option("--ignore-oneway", is_flag=True, help="Plan as if every street were two-way.")
@click.option("--speed-kmh", default=10.0, show_default=True, type=float)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--gpx", type=click.Path(dir_okay=False, path_type=Path), default=None)
@layer_flags()
@pass_cli
@one_line_errors
def sweep_cmd(cli: CliContext, roads_path, depot, required_spec, ignore_oneway, speed_kmh, out, gpx,
              layer_options) -> None:
    """Plan one closed sweep route over the required streets of any road file.

    Bad features are listed and left out; what the file does not say (ids, classes,
    one-way) is guessed and each guess printed first.
    """
    from geo.io import read_layer_file
    from geo.io.layer_fill import LayerOptions
    from geo.routing.output import format_turn_list, turn_list
    from geo.routing.postman import plan_sweep, required_by_filter
    from geo.routing.road_graph import graph_from_roads

    settings = cli.settings
    batch = read_layer_file(roads_path, kind="roads",
                            options=LayerOptions(jurisdiction_code=settings.jurisdiction_code, **layer_options))
    echo_row_errors(batch.errors)
    for guess in batch.guesses:
        click.echo(f"guess: {guess}")
    graph = graph_from_roads(batch.usable(), crs=settings.metric_crs)
    plan = plan_sweep(graph, required_by_filter(graph.edges, required_spec), _lonlat(depot),
                      respect_oneway=not ignore_oneway, speed_kmh=speed_kmh)
    click.echo(format_turn_list(turn_list(plan.steps, speed_kmh=speed_kmh)))
    click.echo(f"total {plan.total_m:.0f} m, required {plan.required_m:.0f} m, deadhead {plan.deadhead_m:.0f} m")
    kind = "exact Chinese postman optimum" if plan.exact else "heuristic"
    click.echo(f"lower bound {plan.lower_bound_m:.0f} m ({kind}; gap to bound "
               f"{(plan.total_m / plan.lower_bound_m - 1) * 100:.1f} %)")
    _write_outputs(plan.routes, [plan.steps.assign(kind="step")], out, gpx)


@route.command("tsplib")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--time-limit-s", default=4.0, show_default=True, type=float)
@one_line_errors
def tsplib_cmd(path: Path, seed: int, time_limit_s: float) -> None:
    """Solve a TSPLIB EUC_2D instance with the route core and print the tour length."""
    from geo.routing.tsp import parse_tsplib, solve_tour, tour_length

    instance = parse_tsplib(path.read_text(encoding="utf-8", errors="replace"), source=path.name)
    d = instance.distances()
    tour = solve_tour(d, seed=seed, time_limit_s=time_limit_s)
    click.echo(f"{instance.name}: {len(d)} nodes, tour length {tour_length(d, tour):.0f}")
