"""``citymap hotspots``: Gi* hot spots of the unit cells to a GeoJSON file, optionally a standalone map.

Registered on :data:`webmap.cli.main`; kept apart like the route group.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from webmap.cli.context import CliContext, one_line_errors, pass_cli

#: the properties of each written cell, in this order
CELL_PROPERTIES = ("cell_code", "community_code", "count", "gi_z", "gi_p", "gi_bin")


@click.command("hotspots")
@click.option("--category", default=None, help="Event code (06010) or major class (06); default: all.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day, YYYY-MM-DD (default: 30 days before --until).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day included, YYYY-MM-DD (default: the day of the latest report).")
@click.option("--fdr", is_flag=True, help="Benjamini–Hochberg FDR correction of the Gi* bins.")
@click.option("--band-m", type=float, default=None, help="Distance band in metres instead of queen contiguity.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="GeoJSON (or .gpkg) file: one feature per unit cell.")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a standalone HTML map (assets inlined: it opens offline).")
@pass_cli
@one_line_errors
def hotspots_cmd(cli: CliContext, category: str | None, since: datetime | None, until: datetime | None,
                 fdr: bool, band_m: float | None, out: Path, map_path: Path | None) -> None:
    """Getis-Ord Gi* hot spots of the issues per unit cell over a period."""
    from geo import store
    from geo.hotspots import views as hotspot_views
    from geo.io import write_frame
    from geo.issue_filter import IssueFilter

    engine, settings = cli.engine, cli.settings
    default_since, default_until = hotspot_views.default_period(engine, settings)
    end = until + timedelta(days=1) if until else default_until
    start = since or end - (default_until - default_since)
    filters = IssueFilter(since=start, until=end, categories=(category,) if category else None)
    view = hotspot_views.hotspot_view(engine, settings, filters, band_m=band_m, fdr=fdr, with_density=map_path is not None,
                                      per_major=map_path is not None)
    cells = view.cells.rename(columns={"code": "cell_code"})[[*CELL_PROPERTIES, view.cells.geometry.name]]
    write_frame(cells, out)
    hot, cold = int((cells["gi_bin"] >= 2).sum()), int((cells["gi_bin"] <= -2).sum())
    click.echo(f"{view.n_issues} issues {start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}: "
               f"{len(cells)} cells, {hot} hot and {cold} cold at 95 % → {out}")
    if map_path is not None:
        from geo.taxonomy import load_taxonomy
        from webmap.maps.hotspots import hotspot_map
        from webmap.maps.standalone import standalone_html

        j = settings.jurisdiction_code
        majors = load_taxonomy().categories.drop_duplicates("major_code")
        document = hotspot_map(view, boundary=store.read_layer(engine, "jurisdiction", jurisdiction_code=j),
                               roads=store.read_layer(engine, "roads", jurisdiction_code=j), settings=settings,
                               major_names=dict(zip(majors["major_code"], majors["major_name"])))
        map_path.write_text(standalone_html(document, settings), encoding="utf-8")
        click.echo(f"map written to {map_path}")

