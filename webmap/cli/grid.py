"""``citymap grid build``: a jurisdiction from its boundary, with its 100 m unit grid."""

from __future__ import annotations

from pathlib import Path

import click

from webmap.cli.context import CliContext, echo_row_errors, one_line_errors, pass_cli
from webmap.cli.layer_flags import layer_flags


@click.group("grid")
def grid_group() -> None:
    """The unit grid (万米单元网格) of the jurisdiction."""


@grid_group.command("build")
@click.option("--boundary", "boundary_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The jurisdiction's boundary: polygons in any CRS (GeoJSON, GeoPackage, Shapefile).")
@click.option("--communities", "communities_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Community polygons, stored with the grid (default: the communities already imported).")
@click.option("--name", default=None, help="The jurisdiction's name (default: the boundary file's name column).")
@click.option("--out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the cells to this .geojson or .gpkg file.")
@click.option("--strict", is_flag=True, help="Refuse a communities file with any bad feature.")
@layer_flags(roads=False)
@pass_cli
@one_line_errors
def grid_build_cmd(cli: CliContext, boundary_path: Path, communities_path: Path | None, name: str | None,
                   out: Path | None, strict: bool, layer_options: dict) -> None:
    """Store the jurisdiction's boundary and lay its 100 m cells, coded by community (15 characters).

    The code, the metric CRS and the place of the grid come from the settings
    (CITYMAP_JURISDICTION_CODE, CITYMAP_METRIC_CRS); the grid's origin is the boundary's
    south-west corner, floored to whole cells. --id-column names the communities' code column.
    """
    from geo.io import write_frame
    from geo.io.grid import build_grid
    from geo.io.layer_fill import LayerOptions

    report = build_grid(cli.engine, boundary_path, settings=cli.settings, communities_path=communities_path,
                        options=LayerOptions(id_column=layer_options["id_column"]), name=name, strict=strict)
    if report.community_batch is not None:
        echo_row_errors(report.community_batch.errors)
    for line in report.lines():
        click.echo(line)
    if out is not None:
        write_frame(report.cells, out)
        click.echo(f"{len(report.cells)} cells written to {out}")
    click.echo("run `citymap assign` to re-assign the stored issues to the new grid")
