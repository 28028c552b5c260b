"""geo.layers: the one registry of reference layers agrees with the schema, the files and the API."""

from __future__ import annotations

import pytest

from geo.errors import ValidationError
from geo.layers import LAYERS, layer_spec, reference_layers
from geo.store import models

# the schema's geometry types each registry geometry may be stored as (GEOMETRY holds Polygon and MultiPolygon alike)
STORED_AS = {"polygon": {"GEOMETRY", "POLYGON", "MULTIPOLYGON"}, "line": {"GEOMETRY", "LINESTRING"}}


@pytest.mark.parametrize("name", list(LAYERS))
def test_each_layer_matches_its_table(name):
    spec = LAYERS[name]
    table = models.Base.metadata.tables[spec.table]
    columns = {c.name: c for c in table.columns}
    assert set(spec.stored_columns) <= set(columns), set(spec.stored_columns) - set(columns)
    assert {c for c in spec.stored_columns if columns[c].nullable} == set(spec.optional)
    assert columns["geom"].type.geometry_type in STORED_AS[spec.geometry]
    assert columns[spec.key].primary_key or columns[spec.key].unique or any(
        spec.key in {c.name for c in constraint.columns} for constraint in table.constraints
        if constraint.__class__.__name__ == "UniqueConstraint")
    assert ("jurisdiction_code" in spec.columns) == (name != "jurisdiction")
    assert set(dict(spec.defaults)) <= set(spec.columns)


def test_reference_layers_are_every_layer_but_the_jurisdiction_in_load_order():
    assert [spec.name for spec in reference_layers()] == [
        "communities", "compounds", "grids", "zones", "unit_cells", "roads", "segments"]
    assert len({spec.table for spec in LAYERS.values()}) == len({spec.file for spec in LAYERS.values()}) == len(LAYERS)


@pytest.mark.parametrize("bad", ["cells", "", None, "roads ", "{{7*7}}"])
def test_an_unknown_layer_is_named_with_the_known_ones(bad):
    with pytest.raises(ValidationError, match=r"unknown layer .*known: jurisdiction, communities"):
        layer_spec(bad)
