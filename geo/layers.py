"""The reference layers of a jurisdiction: one registry that storage, imports, exports,
the CLI, the OGC API and the sample writer all read.

Each :class:`LayerSpec` says a layer's name, its table, the file it is published as
under a data directory, its geometry, the column that identifies a feature, its
columns in output order (with the types and the Chinese headers accepted on import)
and its title in the OGC API. Geometry is stored and published in WGS84 lon/lat
(EPSG:4326); lengths (``from_m``, ``to_m``, ``length_m``) are metres along the road
in the jurisdiction's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.errors import ValidationError

__all__ = ["COLUMN_ALIASES", "DEFAULT_ROAD_CLASS", "LAYERS", "LayerSpec", "OSM_HIGHWAY_CLASSES", "ROAD_CLASSES",
           "ROAD_CLASS_WORDS", "layer_spec", "reference_layers"]

#: road classes, from the widest; a road file's 等级 words and OpenStreetMap's highway values map onto them
ROAD_CLASSES = ("arterial", "secondary", "branch", "alley")

#: OpenStreetMap ``highway`` values → road class (the table of the README's "OpenStreetMap extracts"); a way
#: with any other ``highway`` value (path, cycleway, steps, track, construction, …) is no street to manage here
OSM_HIGHWAY_CLASSES: dict[str, str] = {
    **dict.fromkeys(("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link"), "arterial"),
    **dict.fromkeys(("secondary", "secondary_link", "tertiary", "tertiary_link"), "secondary"),
    **dict.fromkeys(("residential", "unclassified", "road"), "branch"),
    **dict.fromkeys(("service", "living_street", "pedestrian", "footway"), "alley"),
}

#: a class column's words (compared case-folded, NFKC) → road class: the classes, surveyors' Chinese words, and
#: OpenStreetMap's highway values (``class``/``fclass``/``highway`` columns of exported extracts)
ROAD_CLASS_WORDS: dict[str, str] = {
    **{road_class: road_class for road_class in ROAD_CLASSES},
    "主干路": "arterial", "主干道": "arterial", "快速路": "arterial",
    "次干路": "secondary", "次干道": "secondary",
    "支路": "branch",
    "背街小巷": "alley", "背街里巷": "alley", "小巷": "alley", "街巷": "alley",
    **OSM_HIGHWAY_CLASSES,
}

#: the class of a road whose file says none (``citymap import --default-class`` chooses another)
DEFAULT_ROAD_CLASS = "branch"

#: column → other headers a layer file may carry instead of the column's own name, in the order they are
#: looked for (a file with both ``class`` and ``highway`` gives its class from ``class``)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "道路名称", "路名"),
    "road_class": ("等级", "道路等级", "class", "fclass", "highway"),
    "code": ("编码", "代码"),
    "road_id": ("道路编号",),
    "is_priority": ("重点道路", "priority", "重点"),
    "oneway": ("单行", "one_way", "单行线"),
    "community_code": ("社区编码",),
    "jurisdiction_code": ("街道编码",),
    "worker": ("网格员",),
    "department_code": ("责任科室",),
}
#: columns by type; any other column is text
INTEGER_COLUMNS = frozenset({"col", "row", "segment_id", "seq"})
FLOAT_COLUMNS = frozenset({"depot_lon", "depot_lat", "cell_size_m", "grid_origin_x", "grid_origin_y", "from_m", "to_m",
                           "length_m"})
BOOLEAN_COLUMNS = frozenset({"is_priority", "oneway"})


@dataclass(frozen=True)
class LayerSpec:
    """One reference layer.

    Attributes
    ----------
    name : str
        The layer's name in the CLI (``--kind``), the OGC API (collection id) and storage.
    table : str
        Its database table.
    file : str
        Its file under a data directory, e.g. ``"grids/unit_cells.geojson"``.
    geometry : {"polygon", "line"}
        Polygon or MultiPolygon; a LineString.
    key : str
        The column that identifies a feature (an OGC API feature id).
    columns : tuple of str
        Columns in output order; every layer but the jurisdiction ends with ``jurisdiction_code``.
    optional : frozenset of str
        Columns that may be empty (nullable in :mod:`geo.store.models`).
    defaults : tuple of (str, bool)
        Flags a file may leave out, and the value they then take.
    made_key_prefix : str, optional
        A file without the key column gets keys made of this prefix and a digest of each feature's
        geometry and name, so the same feature has the same key in every import (:mod:`geo.io.layer_fill`);
        None: the file must carry its keys (or, for communities, they are numbered).
    title, description : str
        Chinese title and description in the OGC API.
    """

    name: str
    table: str
    file: str
    geometry: str
    key: str
    columns: tuple[str, ...]
    title: str
    description: str
    optional: frozenset[str] = frozenset()
    defaults: tuple[tuple[str, bool], ...] = ()
    made_key_prefix: str | None = None

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """The columns of the table besides ``jurisdiction_code`` and the geometry."""
        return tuple(c for c in self.columns if c != "jurisdiction_code")


# Surveyed road files seldom carry these flags; a road is then ordinary and two-way.
_ROAD_FLAGS = (("is_priority", False), ("oneway", False))

#: name → layer, in the order a data directory is loaded (each layer's codes before the layers that cite them)
LAYERS: dict[str, LayerSpec] = {spec.name: spec for spec in (
    LayerSpec("jurisdiction", "jurisdictions", "grids/jurisdiction.geojson", "polygon", "code",
              ("code", "name", "district_code", "metric_crs", "cell_size_m", "grid_origin_x", "grid_origin_y"),
              "街道", "街道辖区边界、度量坐标系与单元网格原点"),
    LayerSpec("communities", "communities", "grids/communities.geojson", "polygon", "code",
              ("code", "name", "jurisdiction_code"), "社区", "社区范围"),
    LayerSpec("compounds", "compounds", "grids/compounds.geojson", "polygon", "code",
              ("code", "name", "community_code", "jurisdiction_code"), "小区", "居住小区范围",
              optional=frozenset({"community_code"}), made_key_prefix="X"),
    LayerSpec("grids", "management_grids", "grids/grids.geojson", "polygon", "code",
              ("code", "name", "community_code", "worker", "department_code", "jurisdiction_code"),
              "管理网格", "管理网格、网格员与责任部门",
              optional=frozenset({"community_code", "worker", "department_code"}), made_key_prefix="G"),
    LayerSpec("zones", "contractor_zones", "grids/zones.geojson", "polygon", "code",
              ("code", "name", "department_code", "depot_lon", "depot_lat", "jurisdiction_code"),
              "环卫作业片区", "环卫一体化西片、东片及其车场"),
    LayerSpec("unit_cells", "unit_cells", "grids/unit_cells.geojson", "polygon", "code",
              ("code", "community_code", "col", "row", "jurisdiction_code"),
              "万米单元网格", "100 米 × 100 米单元网格及其编码", optional=frozenset({"community_code"})),
    LayerSpec("roads", "roads", "roads/roads.geojson", "line", "road_id",
              ("road_id", "name", "road_class", "is_priority", "oneway", "jurisdiction_code"),
              "道路", "道路中心线：等级、是否重点道路、是否单行", defaults=_ROAD_FLAGS, made_key_prefix="R"),
    LayerSpec("segments", "road_segments", "roads/segments.geojson", "line", "segment_id",
              ("segment_id", "road_id", "name", "road_class", "is_priority", "oneway", "seq", "from_m", "to_m",
               "length_m", "jurisdiction_code"),
              "道路路段", "道路在交叉口处且按不超过约 200 米分段，带里程（from_m、to_m）", defaults=_ROAD_FLAGS),
)}


def layer_spec(name: str) -> LayerSpec:
    """The layer called ``name``.

    Raises
    ------
    geo.errors.ValidationError
        No layer has that name; the message lists the known ones.
    """
    try:
        return LAYERS[name]
    except (KeyError, TypeError):
        raise ValidationError(f"unknown layer {name!r}; known: {', '.join(LAYERS)}") from None


def reference_layers() -> tuple[LayerSpec, ...]:
    """The layers a jurisdiction's features live in (every layer but the jurisdiction itself)."""
    return tuple(spec for spec in LAYERS.values() if spec.name != "jurisdiction")
