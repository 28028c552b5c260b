"""Deterministic, illustrative sample data for 金桥街道 (Dongli District, Tianjin).

Nothing here is surveyed. The boundary, roads, communities, compounds, grids,
contractor zones and the year of issues are invented to look like a plausible
sub-district on the north-eastern edge of Tianjin: a jurisdiction of about 25 km²
between 117.33–117.40 °E and 39.08–39.12 °N, cut by the priority roads 津北公路
(east–west) and 先锋东路 (north–south), built up in the west and centre and
turning into urban–rural fringe towards the east. Road and compound names are
illustrative; the codes are placeholders (东丽区 120110 + 街道 900), not the codes
the district issues.

Everything is drawn from ``numpy.random.default_rng(seed)``, so the same seed gives
the same layers and issues, byte for byte once written. Geometry is built in the
metric CRS (EPSG:4548, metres) and returned in WGS84 (EPSG:4326) rounded to 6
decimals (about 0.1 m), the precision the published files carry.

:func:`make_layers` builds the reference layers, :func:`make_issues` a simulated
year of issues on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import chinese_calendar
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.interpolate import CubicSpline
from shapely.geometry import LineString, Polygon

from geo.crs import WGS84, metric_to_lonlat, to_metric, to_wgs84
from geo.segments import split_roads
from geo.unit_grid import build_unit_grid

__all__ = ["JURISDICTION_CODE", "make_issues", "make_layers"]

JURISDICTION_CODE = "120110900"  # placeholder: 东丽区 120110 + 900
DISTRICT_CODE = "120110"
JURISDICTION_NAME = "金桥街道"
METRIC_CRS = "EPSG:4548"
CELL_SIZE_M = 100.0
DECIMALS = 6

# The layout below is drafted in metres east/north of this EPSG:4548 point
# (about 117.3294 °E, 39.0800 °N), the south-west corner of the drafting sheet.
_ANCHOR = np.array([528500.0, 4327400.0])

# Corners of the jurisdiction, clockwise from the south-west; the generator adds a
# smooth wobble so the line looks like a boundary that follows fields and ditches.
_BOUNDARY = (
    (200, 350), (900, 150), (1700, 260), (2500, 80), (3300, 200), (4100, 40),
    (4900, 230), (5700, 150), (6150, 600), (6250, 1500), (6050, 2400), (6300, 3200),
    (6100, 4000), (5600, 4500), (4700, 4400), (3900, 4650), (3000, 4500),
    (2100, 4680), (1200, 4450), (450, 4550), (100, 3800), (280, 2900), (50, 2000),
    (220, 1200),
)


@dataclass(frozen=True)
class _RoadPlan:
    name: str
    road_class: str
    is_priority: bool
    control: tuple[tuple[float, float], ...]


# Arterials run past the boundary and are cut at it. The other roads overshoot the
# roads they end on (or the boundary) and are cut back at their first and last
# crossing, so every end lies on another road.
_ARTERIALS = (
    _RoadPlan("津北公路", "arterial", True, ((-400, 2180), (1200, 2300), (2600, 2260), (3800, 2120), (5200, 2060), (6700, 2180))),
    _RoadPlan("先锋东路", "arterial", True, ((2950, -400), (3020, 900), (2930, 2200), (2880, 3400), (2990, 5000))),
    _RoadPlan("金桥路", "arterial", True, ((-400, 3480), (1500, 3560), (3000, 3500), (4400, 3380), (6700, 3460))),
    _RoadPlan("新立大道", "arterial", True, ((4750, -400), (4820, 1200), (4700, 2600), (4760, 3800), (4700, 5000))),
    _RoadPlan("华明路", "arterial", True, ((1100, -400), (1260, 1300), (1330, 2600), (1480, 3900), (1600, 5000))),
)
_LOCAL_ROADS = (
    _RoadPlan("栖霞路", "secondary", False, ((-300, 1100), (1500, 1180), (3000, 1130), (4900, 1230))),
    _RoadPlan("杨台路", "secondary", False, ((2100, -300), (2200, 1500), (2150, 3700))),
    _RoadPlan("东兴路", "secondary", False, ((4550, 1550), (5500, 1480), (6700, 1600))),
    _RoadPlan("瑞景路", "branch", False, ((1100, 2800), (2900, 2880), (4950, 2820))),
    _RoadPlan("明珠路", "branch", False, ((3850, 1000), (3900, 2200), (3820, 3620))),
    _RoadPlan("金钟路", "branch", False, ((620, 1000), (700, 2300), (640, 3700))),
    _RoadPlan("登州路", "branch", False, ((5550, -300), (5650, 2000), (5580, 4900))),
    _RoadPlan("丰年路", "branch", False, ((1100, 4050), (3000, 4150), (4950, 4080))),
)
_ALLEY_NAMES = (
    "金园里", "明珠巷", "福康里", "瑞和里", "新兴巷", "安居里", "和顺里", "永安巷",
    "春华里", "秋实里", "幸福巷", "文苑里", "惠民巷", "康宁里", "泰和里", "平安巷",
    "富民巷", "宝元里", "育才巷", "长青里", "朝阳巷", "兴盛里", "同心里", "吉祥巷",
    "景福里", "丰乐巷", "怡和里", "德润巷", "仁和里", "嘉禾巷",
)
_MAX_ALLEYS = len(_ALLEY_NAMES)
_ONEWAY_ALLEYS = ("明珠巷", "文苑里")

# Communities are unions of the faces the arterials cut out of the jurisdiction;
# a face belongs to the community whose drafting anchor lies nearest to it.
_COMMUNITIES = (
    ("金桥社区", ((2200, 2850),)),
    ("新兴社区", ((3850, 2800),)),
    ("瑞景社区", ((2200, 1100),)),
    ("明珠社区", ((3850, 1100),)),
    ("栖霞社区", ((700, 1100),)),
    ("金园社区", ((700, 2850), (700, 4000))),
    ("丰年社区", ((2200, 4050), (3850, 4000))),
    ("东兴社区", ((5500, 1100),)),
    ("利民社区", ((5500, 2850), (5500, 4000))),
)
# East of 新立大道: villages, fields, yards and a few resettlement compounds.
_FRINGE_COMMUNITIES = ("东兴社区", "利民社区")
_FRINGE_COMPOUNDS = 3
_URBAN_COMPOUNDS = 44

_COMPOUND_NAMES = (
    "金桥花园", "瑞景苑", "明珠里", "新兴家园", "栖霞园", "金园公寓", "丰年小区", "和顺园",
    "春华里", "福康家园", "安居苑", "怡景园", "润泽园", "翠竹苑", "金色家园", "阳光新城",
    "馨园", "雅居苑", "康乐里", "华馨园", "锦绣花园", "景泰园", "书香苑", "嘉和园",
    "欣荣里", "悦华园", "祥和家园", "富源里", "兰亭苑", "桂馨园", "金地花园", "和美家园",
    "育英里", "清华苑", "泰安里", "万福园", "东兴家园", "利民新苑", "鑫源公寓", "博雅园",
    "紫荆苑", "天和里", "荣华园", "新立家园", "盛世华庭", "丽景苑", "宜居园", "学府花园",
    "景和苑", "建新里", "惠丰园", "青年公寓", "丽水苑", "恒安里", "瑞丰园", "金瑞嘉园",
    "湖滨苑", "水岸花园", "晓园", "润景里", "明德园", "福润家园", "新苑", "雍和园",
)

# Half the corridor kept clear of compound walls, from the centre-line (metres):
# carriageway, pavement and, on the bigger roads, a green belt.
_ROAD_CLEARANCE_M = {"arterial": 30.0, "secondary": 18.0, "branch": 12.0, "alley": 6.0}
_BOUNDARY_CLEARANCE_M = 10.0
_MIN_PARCEL_M2 = 15_000.0
_MAX_COMPOUND_M2 = 200_000.0
_COMPOUND_GAP_M = 8.0
_NODE_TOL_M = 0.01


def _curve(control: tuple[tuple[float, float], ...], *, step_m: float = 20.0) -> LineString:
    """A smooth line through drafted control points, vertices about ``step_m`` apart (EPSG:4548)."""
    pts = np.asarray(control, dtype=float) + _ANCHOR
    chord = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
    spline = CubicSpline(chord, pts, axis=0, bc_type="natural")
    return LineString(spline(np.linspace(0.0, chord[-1], int(chord[-1] // step_m) + 2)))


def _boundary_ring(rng: np.random.Generator, *, step_m: float = 40.0, amplitude_m: float = 30.0,
                   smooth_m: float = 500.0) -> LineString:
    """The jurisdiction's outline as a closed line (EPSG:4548) with a smooth random wobble."""
    corners = np.asarray(_BOUNDARY, dtype=float) + _ANCHOR
    draft = LineString(np.vstack([corners, corners[:1]]))
    along = np.linspace(0.0, draft.length, int(round(draft.length / step_m)), endpoint=False)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(draft, along))
    tangent = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    tangent /= np.hypot(*tangent.T)[:, None]
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    # Low-pass white noise around the closed ring (a circular Gaussian filter via
    # FFT), so the wobble is smooth and joins up where the ring closes.
    freq = np.fft.rfftfreq(len(along), d=draft.length / len(along))
    spectrum = np.fft.rfft(rng.normal(size=len(along))) * np.exp(-0.5 * (freq * smooth_m) ** 2)
    noise = np.fft.irfft(spectrum, n=len(along))
    wobbled = pts + normal * (noise / noise.std() * amplitude_m)[:, None]
    return LineString(np.vstack([wobbled, wobbled[:1]]))


def _trim(line: LineString, limits: shapely.Geometry) -> LineString:
    """The part of ``line`` between its first and last crossing of ``limits``."""
    hits = shapely.points(shapely.get_coordinates(shapely.intersection(line, limits)))
    if len(hits) < 2:
        raise ValueError("a drafted road does not reach the roads it should end on")
    along = shapely.line_locate_point(line, hits)
    return shapely.ops.substring(line, along.min(), along.max())


def _distinct(points: np.ndarray) -> np.ndarray:
    """``points`` (n × 2) without those within the node tolerance of an earlier one."""
    gap = np.hypot(points[:, None, 0] - points[None, :, 0], points[:, None, 1] - points[None, :, 1])
    return points[~np.triu(gap < _NODE_TOL_M, k=1).any(axis=0)]


def _with_vertices(line: LineString, points: np.ndarray) -> LineString:
    """``line`` with ``points`` (n × 2, on the line) as exact vertices.

    A vertex already within a millimetre of a point is replaced by the point; the
    others are inserted in order along the line.
    """
    coords = shapely.get_coordinates(line)
    points = _distinct(points)
    gap = np.hypot(coords[:, None, 0] - points[None, :, 0], coords[:, None, 1] - points[None, :, 1])
    near = gap.min(axis=0) < 1e-3
    coords[gap[:, near].argmin(axis=0)] = points[near]
    new = points[~near]
    vertex_at = np.r_[0.0, np.cumsum(np.hypot(*np.diff(coords, axis=0).T))]
    new_at = shapely.line_locate_point(line, shapely.points(new))
    order = np.argsort(np.r_[vertex_at, new_at], kind="stable")
    return LineString(np.vstack([coords, new])[order])


def _node(lines: list[LineString]) -> list[LineString]:
    """Make every junction of ``lines`` an exact shared vertex.

    Crossings become a vertex of both lines; an end that stops on another line (a
    T-junction, off by rounding) becomes a vertex of that line. Splitting at
    intersections and snapping nodes then need no tolerance downstream.
    """
    geoms = np.asarray(lines, dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=_NODE_TOL_M)
    pairs = left < right
    junctions: list[list[np.ndarray]] = [[] for _ in lines]
    for i, j in zip(left[pairs], right[pairs]):
        # Ends that stop on the other line come first: they are exact, whereas the
        # computed crossing of a T-junction may be off by rounding, or missing.
        found = [shapely.get_coordinates(shapely.intersection(geoms[i], geoms[j]))]
        for a, b in ((geoms[j], geoms[i]), (geoms[i], geoms[j])):
            ends = shapely.get_coordinates(shapely.boundary(a))
            found.insert(0, ends[shapely.dwithin(shapely.points(ends), b, _NODE_TOL_M)])
        pts = np.vstack(found)
        junctions[i].append(pts)
        junctions[j].append(pts)
    return [_with_vertices(line, np.vstack(found)) if found else line for line, found in zip(lines, junctions)]


def _faces(lines: list[LineString]) -> np.ndarray:
    """Polygons enclosed by noded ``lines``, ordered south→north then west→east."""
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.unary_union(lines))))
    centre = shapely.get_coordinates(shapely.point_on_surface(faces))
    return faces[np.lexsort((np.round(centre[:, 0]), np.round(centre[:, 1])))]


def _community_areas(ring: LineString, arterials: list[LineString]) -> np.ndarray:
    """Community polygons, in ``_COMMUNITIES`` order: the faces the arterials cut from
    the jurisdiction, each given to the community with the nearest drafting anchor."""
    faces = _faces([ring, *arterials])
    anchors = np.array([xy for _, pts in _COMMUNITIES for xy in pts], dtype=float) + _ANCHOR
    anchor_owner = np.array([i for i, (_, pts) in enumerate(_COMMUNITIES) for _ in pts])
    face_xy = shapely.get_coordinates(shapely.point_on_surface(faces))
    owner = anchor_owner[np.argmin(((face_xy[:, None] - anchors[None]) ** 2).sum(axis=2), axis=1)]
    return np.array([shapely.union_all(faces[owner == i]) for i in range(len(_COMMUNITIES))], dtype=object)


def _alleys(blocks: np.ndarray, fringe: np.ndarray, rng: np.random.Generator) -> list[LineString]:
    """Back streets crossing blocks from road to road (EPSG:4548).

    Each urban block of over 40 ha gets one alley (two over 120 ha) running across
    its narrow side, with a slight kink; fringe blocks get one if over 110 ha. At
    most ``_MAX_ALLEYS``, a random choice if there would be more.
    """
    area = shapely.area(blocks)
    count = np.where(fringe, (area > 1_100_000).astype(int), (area > 400_000).astype(int) + (area > 1_200_000))
    rect = shapely.get_coordinates(shapely.oriented_envelope(blocks)).reshape(len(blocks), 5, 2)
    e1, e2 = rect[:, 1] - rect[:, 0], rect[:, 2] - rect[:, 1]
    first_long = np.hypot(*e1.T) >= np.hypot(*e2.T)
    long_vec = np.where(first_long[:, None], e1, e2)
    short_vec = np.where(first_long[:, None], e2, e1)
    centre = rect[:, :4].mean(axis=1)
    owner = np.repeat(np.arange(len(blocks)), count)
    # One alley in the middle third, two near the quarter points.
    slot = np.concatenate([[0.0] if c == 1 else [-0.25, 0.25] for c in count if c])
    shift = slot + rng.uniform(-0.08, 0.08, size=len(owner))
    kink = rng.uniform(-25.0, 25.0, size=len(owner))
    mid = centre[owner] + long_vec[owner] * shift[:, None]
    unit_long = long_vec[owner] / np.hypot(*long_vec[owner].T)[:, None]
    reach = short_vec[owner] * 1.5
    drafts = shapely.linestrings(
        np.stack([mid - reach, mid + unit_long * kink[:, None], mid + reach], axis=1)
    )
    pieces = shapely.intersection(drafts, blocks[owner])
    longest = [max(shapely.get_parts(piece), key=lambda part: part.length) for piece in pieces]
    if len(longest) > _MAX_ALLEYS:
        longest = [longest[i] for i in np.sort(rng.choice(len(longest), size=_MAX_ALLEYS, replace=False))]
    return longest


def _kmeans_voronoi(region: Polygon, k: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``region`` into ``k`` compact parts of similar area (Voronoi of k-means centres)."""
    xmin, ymin, xmax, ymax = region.bounds
    cand = rng.uniform((xmin, ymin), (xmax, ymax), size=(4000, 2))
    pts = cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]
    centres = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(30):
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        centres = np.array([pts[label == c].mean(axis=0) for c in range(k)])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=region.envelope.buffer(500)))
    parts = shapely.intersection(cells, region)
    centre = shapely.get_coordinates(shapely.point_on_surface(parts))
    # Number grids north→south, then west→east, like the unit cells.
    return parts[np.lexsort((np.round(centre[:, 0]), -np.round(centre[:, 1])))]


def _compounds(blocks: np.ndarray, block_fringe: np.ndarray, roads: gpd.GeoDataFrame, ring: LineString,
               rng: np.random.Generator) -> np.ndarray:
    """Compound polygons (EPSG:4548), disjoint and clear of every road corridor.

    Blocks lose a corridor along every road and along the jurisdiction's edge;
    what is left is a parcel. Parcels are
    cut across their long side into strips of at most 20 ha with a gap between the
    walls. Of the urban strips, a random ``_URBAN_COMPOUNDS`` become compounds (the
    rest are schools, markets, parks, works and yards); the fringe keeps only a few
    resettlement compounds.
    """
    clearance = roads["road_class"].map(_ROAD_CLEARANCE_M).to_numpy()
    corridors = shapely.unary_union(
        shapely.buffer(np.append(roads.geometry.to_numpy(), ring), np.append(clearance, _BOUNDARY_CLEARANCE_M), quad_segs=4)
    )
    parcels, owner = shapely.get_parts(shapely.difference(blocks, corridors), return_index=True)
    keep = shapely.area(parcels) >= _MIN_PARCEL_M2
    parcels, owner = parcels[keep], owner[keep]

    rect = shapely.get_coordinates(shapely.oriented_envelope(parcels)).reshape(-1, 5, 2)
    e1, e2 = rect[:, 1] - rect[:, 0], rect[:, 2] - rect[:, 1]
    first_long = (np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None]
    long_vec, short_vec = np.where(first_long, e1, e2), np.where(first_long, e2, e1)
    centre = rect[:, :4].mean(axis=1)
    strips = np.ceil(shapely.area(parcels) / _MAX_COMPOUND_M2).astype(int)
    cut_owner = np.repeat(np.arange(len(parcels)), strips - 1)
    frac = np.concatenate([np.arange(1, n) / n - 0.5 for n in strips])
    mid = centre[cut_owner] + long_vec[cut_owner] * frac[:, None]
    lines = shapely.linestrings(np.stack([mid - short_vec[cut_owner], mid + short_vec[cut_owner]], axis=1))
    cuts = shapely.multilinestrings(
        lines, indices=cut_owner, out=np.full(len(parcels), shapely.from_wkt("MULTILINESTRING EMPTY"), dtype=object)
    )
    gaps = shapely.buffer(cuts, _COMPOUND_GAP_M / 2, cap_style="flat")
    pieces, piece_owner = shapely.get_parts(shapely.difference(parcels, gaps), return_index=True)
    keep = shapely.area(pieces) >= _MIN_PARCEL_M2
    pieces, fringe = pieces[keep], block_fringe[owner[piece_owner[keep]]]

    # Walls stand a little inside the parcel; simplify to a surveyed-looking outline.
    walls = shapely.simplify(shapely.buffer(pieces, -3.0, join_style="mitre"), 2.0)
    urban, rural = np.flatnonzero(~fringe), np.flatnonzero(fringe)
    chosen = np.concatenate([
        rng.choice(urban, size=min(_URBAN_COMPOUNDS, len(urban)), replace=False),
        rng.choice(rural, size=min(_FRINGE_COMPOUNDS, len(rural)), replace=False),
    ])
    return walls[np.sort(chosen)]


def _rounded(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in WGS84, coordinates rounded to the published 6 decimals, exteriors counter-clockwise."""
    out = to_wgs84(frame)
    geom = shapely.transform(out.geometry.to_numpy(), lambda xy: np.round(xy, DECIMALS))
    if shapely.get_type_id(geom).max() >= 3:
        geom = shapely.orient_polygons(geom)
    return out.set_geometry(gpd.GeoSeries(geom, index=out.index, crs=WGS84))


def _metric_frame(data: dict, geometry: list | np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=list(geometry), crs=METRIC_CRS)


def make_layers(*, seed: int = 20250101) -> dict[str, gpd.GeoDataFrame]:
    """Build the illustrative reference layers of 金桥街道.

    The geometry is invented, not surveyed (see the module docstring). It is drafted
    in EPSG:4548 metres and returned in WGS84 with coordinates rounded to 6
    decimals, so the frames equal what the sample files hold.

    Parameters
    ----------
    seed : int, keyword-only
        Seed of the random generator (boundary wobble, alley placement, which
        parcels are compounds, grid layout). The same seed gives the same layers.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Keys ``jurisdiction``, ``communities``, ``compounds``, ``grids``,
        ``zones``, ``roads``, ``segments``, ``unit_cells``; all EPSG:4326, with the
        columns of the layer-file contract in ``docs/architecture.md``. Codes are
        placeholders: jurisdiction ``120110900``; communities jurisdiction + 3
        digits; compounds community + ``C`` + 2 digits; management grids community
        + ``G`` + 2 digits; road ids ``R001`` …
    """
    rng = np.random.default_rng(seed)
    jc = JURISDICTION_CODE

    ring = _boundary_ring(rng)
    arterials = [_trim(_curve(plan.control), ring) for plan in _ARTERIALS]
    local: list[LineString] = []
    for plan in _LOCAL_ROADS:
        local.append(_trim(_curve(plan.control), shapely.union_all([ring, *arterials, *local])))
    noded = _node([ring, *arterials, *local])
    ring, main = noded[0], noded[1:]
    community_names = [name for name, _ in _COMMUNITIES]
    community_codes = [f"{jc}{i + 1:03d}" for i in range(len(_COMMUNITIES))]
    fringe_geom = shapely.union_all(
        _community_areas(ring, main[: len(_ARTERIALS)])[np.isin(community_names, _FRINGE_COMMUNITIES)]
    )

    # Alleys inside the blocks the main and local roads leave.
    blocks = _faces([ring, *main])
    alleys = _alleys(blocks, shapely.within(shapely.point_on_surface(blocks), fringe_geom), rng)
    noded = _node([ring, *main, *alleys])
    ring, road_lines = noded[0], noded[1:]
    boundary = Polygon(ring.coords)
    # The ring gained vertices where alleys end on it: cut the communities again.
    community_geoms = _community_areas(ring, road_lines[: len(_ARTERIALS)])

    plans = [*_ARTERIALS, *_LOCAL_ROADS]
    alley_names = list(_ALLEY_NAMES[: len(alleys)])
    roads_m = _metric_frame(
        {
            "road_id": [f"R{i + 1:03d}" for i in range(len(road_lines))],
            "name": [p.name for p in plans] + alley_names,
            "road_class": [p.road_class for p in plans] + ["alley"] * len(alleys),
            "is_priority": [p.is_priority for p in plans] + [False] * len(alleys),
            "oneway": [False] * len(plans) + [name in _ONEWAY_ALLEYS for name in alley_names],
            "jurisdiction_code": jc,
        },
        road_lines,
    )

    communities_m = _metric_frame(
        {"code": community_codes, "name": community_names, "jurisdiction_code": jc}, community_geoms
    )

    # Compounds in the blocks all roads leave, named and numbered per community.
    blocks = _faces([ring, *road_lines])
    block_fringe = shapely.within(shapely.point_on_surface(blocks), fringe_geom)
    walls = _compounds(blocks, block_fringe, roads_m, ring, rng)
    wall_xy = shapely.get_coordinates(shapely.point_on_surface(walls))
    wall_comm = shapely.STRtree(community_geoms).query(shapely.points(wall_xy), predicate="within")[1]
    order = np.lexsort((np.round(wall_xy[:, 0]), -np.round(wall_xy[:, 1]), wall_comm))
    walls, wall_comm = walls[order], wall_comm[order]
    seq = pd.Series(wall_comm).groupby(wall_comm).cumcount().to_numpy() + 1
    names = np.asarray(_COMPOUND_NAMES)[rng.permutation(len(_COMPOUND_NAMES))[: len(walls)]]
    compounds_m = _metric_frame(
        {
            "code": [f"{community_codes[c]}C{s:02d}" for c, s in zip(wall_comm, seq)],
            "name": names,
            "community_code": [community_codes[c] for c in wall_comm],
            "jurisdiction_code": jc,
        },
        walls,
    )

    # Management grids: 2–4 per community by area.
    grid_rows = []
    for code, name, geom in zip(community_codes, community_names, community_geoms):
        k = 2 + int(geom.area > 2_000_000) + int(geom.area > 3_500_000)
        for i, part in enumerate(_kmeans_voronoi(geom, k, rng)):
            grid_rows.append((f"{code}G{i + 1:02d}", f"{name}第{i + 1}网格", code, part))
    grids_m = _metric_frame(
        {
            "code": [r[0] for r in grid_rows],
            "name": [r[1] for r in grid_rows],
            "community_code": [r[2] for r in grid_rows],
            "worker": [f"网格员{i + 1:02d}" for i in range(len(grid_rows))],
            "department_code": "grid_center",
            "jurisdiction_code": jc,
        },
        [r[3] for r in grid_rows],
    )

    # Contractor zones: west and east of 先锋东路, each with a depot on a local road.
    xianfeng = road_lines[[p.name for p in plans].index("先锋东路")]
    halves = _faces([ring, xianfeng])
    west = shapely.get_x(shapely.centroid(halves)) < shapely.get_x(shapely.centroid(xianfeng))
    zone_geoms = [shapely.union_all(halves[west]), shapely.union_all(halves[~west])]
    depot_roads = {"sanitation_west": ("杨台路", 0.3), "sanitation_east": ("东兴路", 0.45)}
    depots = [
        shapely.line_interpolate_point(road_lines[[p.name for p in plans].index(road)], frac, normalized=True)
        for road, frac in depot_roads.values()
    ]
    depot_ll = to_wgs84(gpd.GeoSeries(depots, crs=METRIC_CRS))
    zones_m = _metric_frame(
        {
            "code": list(depot_roads),
            "name": ["西片", "东片"],
            "department_code": list(depot_roads),
            "depot_lon": np.round(depot_ll.x.to_numpy(), DECIMALS),
            "depot_lat": np.round(depot_ll.y.to_numpy(), DECIMALS),
            "jurisdiction_code": jc,
        },
        zone_geoms,
    )

    xmin, ymin, _, _ = boundary.bounds
    origin = (np.floor(xmin / CELL_SIZE_M) * CELL_SIZE_M, np.floor(ymin / CELL_SIZE_M) * CELL_SIZE_M)
    jurisdiction_m = _metric_frame(
        {
            "code": [jc],
            "name": [JURISDICTION_NAME],
            "district_code": [DISTRICT_CODE],
            "metric_crs": [METRIC_CRS],
            "cell_size_m": [CELL_SIZE_M],
            "grid_origin_x": [origin[0]],
            "grid_origin_y": [origin[1]],
        },
        [boundary],
    )

    segments_m = split_roads(roads_m, max_len_m=200.0)
    for column in ("from_m", "to_m", "length_m"):
        segments_m[column] = segments_m[column].round(2)
    cells_m = build_unit_grid(
        boundary, communities_m, jurisdiction_code=jc, origin=origin, cell_size_m=CELL_SIZE_M
    )

    metric = {
        "jurisdiction": jurisdiction_m,
        "communities": communities_m,
        "compounds": compounds_m,
        "grids": grids_m,
        "zones": zones_m,
        "roads": roads_m,
        "segments": segments_m,
        "unit_cells": cells_m,
    }
    return {name: _rounded(frame.reset_index(drop=True)) for name, frame in metric.items()}


# --------------------------------------------------------------------------- issues

SOURCES = ("12345", "inspection", "grid_worker", "citizen", "leadership_check")
# Who reports, per kind of place: the hotline dominates at compound gates, patrols
# and grid workers in the fringe and at building sites.
_SOURCE_MIX = {
    "background": (0.36, 0.18, 0.30, 0.12, 0.04),
    "road": (0.25, 0.35, 0.25, 0.08, 0.07),
    "gate": (0.40, 0.12, 0.35, 0.11, 0.02),
    "market": (0.35, 0.30, 0.22, 0.08, 0.05),
    "site": (0.30, 0.35, 0.20, 0.07, 0.08),
    "fringe": (0.15, 0.40, 0.35, 0.04, 0.06),
}
# Share of reports that carry a mobile number, per source (about 70 % overall).
_PHONE_SHARE = np.array([0.97, 0.50, 0.62, 0.95, 0.30])
_STAFF_SOURCES = np.array([False, True, True, False, True])
_COMPONENT_SHARE = {"background": 0.15, "road": 0.30, "gate": 0.16, "market": 0.14, "site": 0.09, "fringe": 0.16}
_COMPONENTS = tuple(_COMPONENT_SHARE)

# Category mix per kind of place (relative weights; codes of GB/T 47678.5-2026).
_MIX: dict[str, dict[str, float]] = {
    "background": {
        "06010": 12, "07001": 10, "06036": 8, "06007": 4, "06009": 2, "06001": 5, "06027": 4, "06028": 5,
        "06029": 4, "06037": 1, "06017": 5, "06021": 3, "06045": 3, "06022": 1, "06004": 2, "06019": 2,
        "07002": 3, "07007": 2, "09015": 2, "06042": 6, "06034": 3, "06035": 4, "10001": 3, "09010": 4,
        "06041": 4,
    },
    "road": {
        "06012": 14, "06010": 10, "06013": 7, "09009": 9, "09010": 5, "09011": 6, "06017": 6, "06018": 4,
        "06021": 4, "06022": 1, "06045": 3, "06016": 3, "06050": 3, "06051": 2, "07001": 7, "07003": 2,
        "07006": 2, "10001": 6, "10002": 2, "06034": 2, "06014": 2, "09005": 3,
    },
    "gate": {
        "06042": 30, "06010": 22, "09010": 15, "06041": 8, "06035": 6, "06036": 6, "09012": 5, "09009": 4,
        "06040": 4, "10001": 2,
    },
    "market": {
        "09006": 30, "06010": 20, "07001": 12, "09005": 10, "09001": 6, "06012": 6, "09009": 5, "09010": 4,
        "09020": 4, "06042": 3,
    },
    "site": {
        "08005": 22, "06014": 20, "06011": 15, "08004": 15, "08007": 6, "08012": 6, "08002": 5, "08001": 5,
        "08006": 6,
    },
    "fringe": {
        "06011": 25, "06020": 15, "06036": 18, "06010": 12, "06032": 3, "06038": 4, "06035": 5, "06001": 8,
        "09004": 5, "06018": 5,
    },
}
_GREENING = ("06017", "06018", "06021", "06022", "06045")
_FESTIVE_GARBAGE = ("06010", "06011", "06035", "06036", "06041", "06042")
# Garbage is cleared the same day (日产日清); works and enforcement take longest.
_SAME_DAY = ("06010", "06011", "06012", "06014", "06017", "06018", "06020", "06035", "06036", "06037",
             "06041", "06042", "10001")
_SLOW_PREFIXES = ("08", "07003", "07006", "06001", "06013", "06016", "06022", "06050", "06051", "06034")

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "06001": ("有人私自搭建彩钢房", "院外私搭简易棚，占用公共空间", "沿街私搭乱建，影响市容"),
    "06004": ("临街楼体外立面污损严重", "墙面涂写乱画，外立面脏污"),
    "06007": ("沿街晾晒衣物被褥，影响市容", "在行道树之间拉绳晾挂衣物"),
    "06009": ("空调外机低挂，滴水影响行人",),
    "06010": ("路边有暴露垃圾，无人清理", "绿化带内堆放生活垃圾", "垃圾袋散落在路边，气味较大", "生活垃圾随意堆放"),
    "06011": ("空地上堆积大量垃圾渣土", "建筑垃圾和生活垃圾混杂堆积，时间较长", "渣土堆放多日未清运"),
    "06012": ("路面有纸屑、烟头等杂物，清扫不及时", "路面脏污，有油渍和泥土", "人行道上落叶杂物未清扫"),
    "06013": ("路面出现坑洼，影响车辆通行", "人行道砖松动破损", "路面开裂下沉"),
    "06014": ("渣土车沿途遗撒，路面有大量泥土", "运输车辆遗撒砂石", "路面遗撒泥浆，湿滑"),
    "06016": ("路口斑马线磨损不清", "道路标线模糊，需重新施划"),
    "06017": ("绿地内有塑料袋、饮料瓶等垃圾", "绿化带内杂物较多，脏乱", "树上挂有塑料袋（树挂）未清理"),
    "06018": ("修剪下的树枝堆在路边未清运", "绿化修剪弃料堆放多日"),
    "06019": ("树上悬挂杂物", "电线杆上吊挂废弃物品"),
    "06020": ("有人焚烧垃圾，烟雾较大", "空地上焚烧树叶杂草", "露天焚烧废弃物，气味刺鼻"),
    "06021": ("行道树出现虫害，树叶被啃食", "绿地植物发生病虫害，需及时防治", "树木有蚜虫，树下有黏液"),
    "06022": ("有人私自砍伐树木", "行道树被私自截枝"),
    "06027": ("餐馆油烟直排，居民反映强烈",),
    "06028": ("夜间噪声扰民", "商户用高音喇叭招揽顾客，噪声扰民"),
    "06029": ("夜间有露天烧烤，烟雾扰民", "路边露天烧烤摊"),
    "06032": ("坑塘内有人倾倒填埋垃圾",),
    "06034": ("路边停放废弃车辆，长期无人使用", "僵尸车长期占用车位"),
    "06035": ("废旧沙发、床垫丢弃在路边", "废弃家具堆放在楼道口"),
    "06036": ("楼道口乱堆杂物", "空地上乱堆杂物，存在安全隐患", "路边堆放废旧物品"),
    "06037": ("路边有动物尸体，需清理",),
    "06038": ("有人在空地圈养鸡鸭，气味较大",),
    "06040": ("有人私设地锁占用公共车位",),
    "06041": ("垃圾桶内垃圾未分类投放", "分类垃圾桶混投严重"),
    "06042": ("垃圾桶满溢，垃圾散落在周围", "垃圾站满溢，未及时清运", "垃圾箱已满，周边有异味"),
    "06045": ("有人在绿地内种菜", "车辆碾压绿地，草坪被毁", "私自占用绿地堆放物品"),
    "06050": ("路缘石缺损、松动",),
    "06051": ("盲道砖缺损",),
    "07001": ("墙面、电线杆上张贴小广告", "楼道内喷涂小广告", "路边设施上粘贴小广告"),
    "07002": ("有人在路口散发广告传单",),
    "07003": ("违规设置户外广告牌", "户外广告牌破损，存在安全隐患"),
    "07006": ("商户牌匾破损、字迹脱落", "违规设置商户招牌"),
    "07007": ("随意悬挂横幅标语",),
    "08001": ("工地夜间施工，噪声扰民", "施工机械作业噪声大"),
    "08002": ("施工材料占用道路", "施工围挡占用人行道"),
    "08004": ("工地扬尘严重，未采取降尘措施", "裸露土方未苫盖，起风扬尘", "工地未洒水降尘"),
    "08005": ("工地旁倾倒施工废弃料", "建筑垃圾倾倒在路边", "施工废料堆放未清运"),
    "08006": ("施工物料乱堆乱放",),
    "08007": ("工地围挡破损、倒伏", "围挡不连续，有缺口"),
    "08012": ("工地出入口车辆未冲洗，车轮带泥上路",),
    "09001": ("流动商贩无照经营", "三轮车流动售卖水果"),
    "09004": ("废品收购点占道堆放，脏乱",),
    "09005": ("商户出店经营，占用人行道", "饭店在门外摆桌经营"),
    "09006": ("商贩占道经营，影响通行", "流动摊贩占道摆卖", "路边有摊贩占道经营"),
    "09009": ("机动车乱停放，占用人行道", "车辆违停堵塞道路"),
    "09010": ("电动车、自行车乱停放", "非机动车堵塞出入口"),
    "09011": ("共享单车堆积，占用人行道",),
    "09012": ("车辆占用消防通道",),
    "09015": ("无证餐饮摊点经营",),
    "09020": ("市场周边秩序混乱，垃圾较多", "农贸市场外溢经营"),
    "10001": ("路面积雪未清扫", "路面结冰湿滑，行人易摔倒", "人行道积雪结冰"),
    "10002": ("架空线缆脱落垂地，存在安全隐患",),
}
_PREFIXES = {"market": "市场周边", "site": "工地附近", "fringe": "村边空地上"}
_TAILS = ("", "，请尽快处理", "，希望尽快解决", "，影响居民出行", "，已持续多日", "，居民反映强烈")
_TAIL_P = (0.40, 0.20, 0.12, 0.10, 0.10, 0.08)
# Indexed by the quarter of the compass the gate faces, counter-clockwise from east.
_GATE_WORDS = ("东门口", "北门口", "西门口", "南门口")

# A community whose compounds cover less than this share of it counts as fringe.
_FRINGE_BUILT_SHARE = 0.2
_EDGE_M = 5.0  # issue points keep this far inside the boundary, clear of rounding
# Reports per metre of road: back streets collect more litter per metre than arterials.
_ROAD_WEIGHT = {"arterial": 1.0, "secondary": 1.2, "branch": 1.2, "alley": 1.6}
_DAY_S = 86_400
_HOUR_S = 3_600


def _lognormal(rng: np.random.Generator, median_s: float, sigma: float, size: int) -> np.ndarray:
    return rng.lognormal(np.log(median_s), sigma, size=size)


def _daytime(secs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Times (seconds from 1 January) moved out of the night (22:00–07:00) to the next morning, 07:00–08:30."""
    tod = secs % _DAY_S
    night = (tod >= 22 * _HOUR_S) | (tod < 7 * _HOUR_S)
    morning = (secs // _DAY_S + (tod >= 22 * _HOUR_S)) * _DAY_S + 7 * _HOUR_S + rng.uniform(0, 1.5 * _HOUR_S, len(secs))
    return np.where(night, morning, secs)


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of ``weights`` (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights))[:, None] * cum[:, -1:]
    return (cum <= u).sum(axis=1)


def _fill(rng: np.random.Generator, k: int, draw, region) -> np.ndarray:
    """``k`` points (k × 2) from ``draw(rng, m)``, redrawing those outside ``region``."""
    parts, have = [], 0
    for _ in range(200):
        if have >= k:
            return np.vstack(parts)[:k] if parts else np.empty((0, 2))
        xy = draw(rng, k - have)
        xy = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        parts.append(xy)
        have += len(xy)
    raise ValueError("a hot spot of the sample issues lies outside the jurisdiction")


def _spread(centre: np.ndarray, sigma_m: float):
    return lambda rng, m: centre + rng.normal(0.0, sigma_m, size=(m, 2))


def _uniform(region):
    xmin, ymin, xmax, ymax = region.bounds
    return lambda rng, m: rng.uniform((xmin, ymin), (xmax, ymax), size=(3 * m + 10, 2))


def _along_roads(lines: np.ndarray, weight: np.ndarray, *, spread_m: float = 6.0, max_off_m: float = 15.0):
    """Points near road centre-lines: a position along a road, then a short perpendicular step."""
    def draw(rng: np.random.Generator, m: int) -> np.ndarray:
        road = rng.choice(len(lines), size=m, p=weight / weight.sum())
        at = rng.random(m) * shapely.length(lines[road])
        base = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], at))
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], at + 1.0))
        behind = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], at - 1.0))
        tangent = ahead - behind
        tangent /= np.hypot(*tangent.T)[:, None]
        offset = np.clip(rng.normal(0.0, spread_m, size=m), -max_off_m, max_off_m)
        return base + np.column_stack([-tangent[:, 1], tangent[:, 0]]) * offset[:, None]
    return draw


def _spaced(cand: np.ndarray, score: np.ndarray, k: int, min_gap_m: float) -> np.ndarray:
    """Up to ``k`` candidates (rows of ``cand``), best score first, at least ``min_gap_m`` apart."""
    chosen: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        if len(chosen) == k:
            break
        if all(np.hypot(*(cand[i] - cand[j])) >= min_gap_m for j in chosen):
            chosen.append(int(i))
    return cand[chosen]


def _calendar(year: int, rng: np.random.Generator) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Days of ``year``, their base report intensity, festival flags and snow intensity.

    Reports rise in summer, drop on weekends and holidays, and rise around the
    Spring Festival and National Day (a week before to five days after). Snow
    falls on a few random days of December–February and lingers for three days.
    """
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    n = len(days)
    detail = [chinese_calendar.get_holiday_detail(d) for d in days.date]
    workday = np.array([chinese_calendar.is_workday(d) for d in days.date])
    festival = np.array([name in ("Spring Festival", "National Day") for _, name in detail], dtype=float)
    # Day t is festive when a festival day falls within [t - 5, t + 7].
    festive = np.convolve(festival, np.ones(13), mode="full")[7:n + 7] > 0
    season = 1.0 + 0.2 * np.sin(2 * np.pi * (np.arange(n) - 105) / n)
    base = season * np.where(workday, 1.0, 0.82) * np.where(festive, 1.3, 1.0)

    winter = np.isin(days.month, (12, 1, 2))
    falls = rng.choice(np.flatnonzero(winter), size=7, replace=False)
    snow = np.zeros(n)
    for lag, strength in enumerate((1.0, 0.6, 0.3, 0.15)):
        np.add.at(snow, np.minimum(falls + lag, n - 1), strength)
    return days, base, festive, snow * winter


def _category_season(codes: list[str], days: pd.DatetimeIndex, festive: np.ndarray, snow: np.ndarray) -> np.ndarray:
    """Day × category multipliers of the category mix (seasons, festivals, snow)."""
    month = days.month.to_numpy()
    season = np.ones((len(days), len(codes)))

    def col(code: str) -> int:
        return codes.index(code)

    season[:, col("10001")] = snow * 40.0
    green = np.select([np.isin(month, (3, 4, 5, 6, 7, 8)), np.isin(month, (9, 10))], [2.5, 0.8], 0.2)
    for code in _GREENING:
        season[:, col(code)] = green
    season[:, col("06021")] = np.where(np.isin(month, (4, 5, 6, 7, 8, 9)), 3.0, 0.0)
    season[:, col("06020")] = np.where(np.isin(month, (10, 11, 12, 1, 2, 3)), 2.0, 0.4)
    season[:, col("06029")] = np.where(np.isin(month, (5, 6, 7, 8, 9)), 3.0, 0.1)
    season[:, col("08004")] = np.where(np.isin(month, (3, 4, 5)), 2.0, 1.0)
    season[:, col("06028")] = np.where(np.isin(month, (6, 7, 8)), 1.6, 1.0)
    for code in _FESTIVE_GARBAGE:
        season[festive, col(code)] *= 2.2
    return season


def _hot_spots(roads: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
               inner, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, object, np.ndarray]:
    """Markets, building sites, the fringe and dumping spots, found from the layers (metric).

    Markets sit on secondary and branch roads where most compounds lie within
    400 m; building sites on vacant land (over 60 m from compounds and roads) in the
    built-up area; the fringe is the communities where compounds cover under 20 % of
    the land; dumping spots are random points in it.
    """
    local = roads[roads["road_class"].isin(["secondary", "branch"])].geometry.to_numpy()
    owner = np.repeat(np.arange(len(local)), (shapely.length(local) // 50).astype(int))
    at = pd.Series(owner).groupby(owner).cumcount().to_numpy() * 50.0 + 25.0
    cand = shapely.get_coordinates(shapely.line_interpolate_point(local[owner], at))
    centres = shapely.get_coordinates(shapely.centroid(compounds.geometry.to_numpy()))
    near = (np.hypot(cand[:, None, 0] - centres[None, :, 0], cand[:, None, 1] - centres[None, :, 1]) < 400).sum(axis=1)
    inside = shapely.contains_xy(inner, cand[:, 0], cand[:, 1])
    markets = _spaced(cand, np.where(inside, near + rng.random(len(cand)), -1.0), int(rng.integers(3, 6)), 700.0)

    built = shapely.union_all(compounds.geometry.to_numpy())
    network = shapely.union_all(roads.geometry.to_numpy())
    vacant = _uniform(inner)(rng, 1000)
    vacant = vacant[shapely.contains_xy(inner, vacant[:, 0], vacant[:, 1])]
    d_built = shapely.distance(shapely.points(vacant), built)
    ok = (d_built > 60) & (d_built < 500) & (shapely.distance(shapely.points(vacant), network) > 60)
    sites = _spaced(vacant[ok], rng.random(int(ok.sum())), int(rng.integers(2, 5)), 900.0)

    areas = communities.geometry.to_numpy()
    share = shapely.area(shapely.intersection(areas, built)) / shapely.area(areas)
    fringe = shapely.difference(shapely.intersection(shapely.union_all(areas[share < _FRINGE_BUILT_SHARE]), inner), built)
    shapely.prepare(fringe)
    dumps = _fill(rng, 5, _uniform(fringe), fringe)
    return markets, sites, fringe, dumps


def _gates(compounds: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each compound's gate (metric xy on its wall, facing the nearest road) and its name (南门口 …)."""
    walls = compounds.geometry.to_numpy()
    lines = roads.geometry.to_numpy()
    _, nearest = shapely.STRtree(lines).query_nearest(walls, all_matches=False)
    gate = shapely.get_coordinates(shapely.shortest_line(walls, lines[nearest]))[0::2]
    facing = gate - shapely.get_coordinates(shapely.centroid(walls))
    quadrant = np.round(np.arctan2(facing[:, 1], facing[:, 0]) / (np.pi / 2)).astype(int) % 4
    return gate, np.asarray(_GATE_WORDS, dtype=object)[quadrant]


def make_issues(layers: dict[str, gpd.GeoDataFrame], *, n: int = 20000, year: int = 2025,
                seed: int = 20250101) -> pd.DataFrame:
    """Simulate a year of issues on the sample layers (illustrative, not real reports).

    Points come from a mixture: a uniform background; points within 15 m of road
    centre-lines; compound gates (overflowing bins, bikes); 3–5 markets (vendors,
    garbage, small ads); 2–4 building sites (debris, spills, dust); the
    urban–rural fringe and its dumping spots (muck, burning, clutter). Some spots
    grow or fade over the year (a market and a dumping spot grow, another market
    and spot are cleaned up, sites open and close), so hotspot trends have
    something to find. Categories follow the seasons: snow and ice (10001) only
    on snowy days of December–February, greening problems in spring and summer,
    more garbage around the Spring Festival and National Day. Lifecycle times
    follow plausible delays (garbage the same day, other work days), with about
    5 % rework, 3 % refused and 1 % merged duplicates; the snapshot is taken at
    the end of 31 December, so recent issues are still open.

    Parameters
    ----------
    layers : dict of str to geopandas.GeoDataFrame
        As returned by :func:`make_layers` (or read from the sample files):
        ``jurisdiction``, ``roads``, ``compounds`` and ``communities``, any CRS;
        the work is done in the jurisdiction's ``metric_crs``.
    n : int, keyword-only
        Number of issues.
    year : int, keyword-only
        Calendar year simulated (the Chinese holiday calendar must cover it).
    seed : int, keyword-only
        Seed of the random generator; the same seed gives the same frame.

    Returns
    -------
    pandas.DataFrame
        One row per issue, ordered by ``reported_at``, with the columns of the
        sample issue CSV: ``external_id`` (``JQ2025-000001`` …), ``source``,
        ``reported_at``, ``lon``, ``lat`` (WGS84 degrees, 6 decimals),
        ``coord_system`` (``wgs84``), ``category_code`` (5-digit string),
        ``description``, ``address``, ``phone`` (mobile number or ``""``),
        ``status``, ``registered_at``, ``dispatched_at``, ``handled_at``,
        ``verified_at``, ``closed_at`` (naive local time, Asia/Shanghai; NaT
        when not reached) and ``rework_count``.
    """
    rng = np.random.default_rng(seed)
    jurisdiction = layers["jurisdiction"]
    crs = str(jurisdiction["metric_crs"].iloc[0])
    boundary = to_metric(jurisdiction, crs=crs).geometry.iloc[0]
    roads = to_metric(layers["roads"], crs=crs)
    compounds = to_metric(layers["compounds"], crs=crs)
    communities = to_metric(layers["communities"], crs=crs)
    inner = boundary.buffer(-_EDGE_M)
    shapely.prepare(inner)

    days, base, festive, snow = _calendar(year, rng)
    n_days = len(days)
    ramp = np.linspace(0.0, 1.0, n_days)
    markets, sites, fringe, dumps = _hot_spots(roads, compounds, communities, inner, rng)
    gates, gate_words = _gates(compounds, roads)

    lines = roads.geometry.to_numpy()
    road_weight = shapely.length(lines) * roads["road_class"].map(_ROAD_WEIGHT).to_numpy()
    gate_weight = rng.lognormal(0.0, 0.6, len(gates)) * np.sqrt(compounds.area.to_numpy())
    market_trend = [0.4 + 1.4 * ramp, np.where(np.arange(n_days) < 150, 1.6, 0.5)] + [np.ones(n_days)] * 3
    site_trend = [
        ((days.month >= 3) & (days.month <= 11)).astype(float),
        np.where(days.month >= 6, 0.3 + 1.5 * ramp, 0.0),
        (days.month <= 7).astype(float),
        ((days.month >= 4) & (days.month <= 9)).astype(float),
    ]
    dump_trend = [np.where(days.month >= 7, 2.0, 0.25), np.where(np.arange(n_days) < 100, 1.8, 0.3)] + [np.ones(n_days)] * 3
    # Streams: (component, region, draw, day profile, weight within the component).
    # Street trade, road and fringe problems stay outside the compound walls.
    outside = shapely.difference(inner, shapely.union_all(compounds.geometry.to_numpy()))
    shapely.prepare(outside)
    streams = [
        ("background", inner, _uniform(inner), base, 1.0),
        ("road", outside, _along_roads(lines, road_weight), base, 1.0),
        ("gate", inner, lambda r, m: gates[r.choice(len(gates), size=m, p=gate_weight / gate_weight.sum())]
         + r.normal(0.0, 12.0, size=(m, 2)), base, 1.0),
        *[("market", outside, _spread(xy, 45.0), base * trend, 1.0) for xy, trend in zip(markets, market_trend)],
        *[("site", outside, _spread(xy, 70.0), base * trend, 1.0) for xy, trend in zip(sites, site_trend)],
        ("fringe", fringe, _uniform(fringe), base, 2.0),
        *[("fringe", fringe, _spread(xy, 90.0), base * trend, 0.6) for xy, trend in zip(dumps, dump_trend)],
    ]
    per_component = dict(zip(_COMPONENTS, rng.multinomial(n, list(_COMPONENT_SHARE.values()))))
    counts = np.zeros(len(streams), dtype=int)
    for component in _COMPONENTS:
        idx = [i for i, s in enumerate(streams) if s[0] == component]
        mass = np.array([streams[i][4] * streams[i][3].sum() for i in idx])
        counts[idx] = rng.multinomial(per_component[component], mass / mass.sum())
    xy = np.vstack([_fill(rng, k, draw, region) for (_, region, draw, _, _), k in zip(streams, counts)])
    day = np.concatenate([rng.choice(n_days, size=k, p=prof / prof.sum()) for (*_, prof, _), k in zip(streams, counts)])
    component = np.repeat([_COMPONENTS.index(s[0]) for s in streams], counts)

    # Category: the place's mix times the day's seasonal multipliers.
    codes = sorted(_TEMPLATES)
    mix = np.array([[_MIX[c].get(code, 0.0) for code in codes] for c in _COMPONENTS])
    category = _pick(rng, mix[component] * _category_season(codes, days, festive, snow)[day])
    source = _pick(rng, np.array([_SOURCE_MIX[c] for c in _COMPONENTS])[component])

    # Time of day: staff report in working hours, the public around the clock.
    public_hours = np.array([2, 1, 1, 1, 1, 2, 5, 10, 14, 15, 14, 12, 9, 10, 12, 12, 11, 10, 9, 8, 7, 5, 4, 3], float)
    staff_hours = np.where((np.arange(24) >= 8) & (np.arange(24) < 18), public_hours, 0.0)
    hours = np.where(_STAFF_SOURCES[source][:, None], staff_hours, public_hours)
    reported = day * _DAY_S + _pick(rng, hours) * _HOUR_S + rng.integers(0, _HOUR_S, size=n)

    # About 1 % are duplicates of an earlier report: same place and kind, later the same day.
    merged = np.zeros(n, dtype=bool)
    dup, orig = np.split(rng.choice(n, size=2 * round(0.01 * n), replace=False), 2)
    merged[dup] = True
    moved = xy[orig] + rng.normal(0.0, 8.0, size=(len(orig), 2))
    xy[dup] = np.where(shapely.contains_xy(inner, moved[:, 0], moved[:, 1])[:, None], moved, xy[orig])
    category[dup], component[dup], day[dup] = category[orig], component[orig], day[orig]
    to_midnight = _DAY_S - reported[orig] % _DAY_S
    reported[dup] = reported[orig] + (rng.uniform(0.05, 1.0, len(dup)) * np.minimum(6 * _HOUR_S, to_midnight - 1)).astype(int)
    refused = ~merged & (rng.random(n) < 0.03)

    # Lifecycle delays, in seconds.
    code_arr = np.asarray(codes, dtype=object)[category]
    same_day = np.isin(code_arr, _SAME_DAY)
    slow = pd.Series(code_arr).str.startswith(_SLOW_PREFIXES).to_numpy()
    # A few reports wait a day or more in a queue (hotline orders forwarded by the
    # district, cases needing a site check before dispatch).
    queued = (rng.random(n) < 0.04) * _lognormal(rng, 1.5 * _DAY_S, 0.6, n)
    registered = _daytime(reported + queued, rng) + _lognormal(rng, 30 * 60, 0.8, n)
    held = (rng.random(n) < 0.04) * _lognormal(rng, 1.5 * _DAY_S, 0.6, n)
    dispatched = _daytime(registered + held, rng) + _lognormal(rng, 20 * 60, 0.9, n)
    work = np.select(
        [same_day, slow],
        [_lognormal(rng, 2.5 * _HOUR_S, 0.7, n) + (rng.random(n) < 0.06) * _DAY_S,
         _lognormal(rng, 6.0 * _DAY_S, 0.9, n)],
        _lognormal(rng, 2.5 * _DAY_S, 1.0, n),
    )
    stuck = ~same_day & (rng.random(n) < 0.015)
    rework = np.where(rng.random(n) < 0.05, 1 + (rng.random(n) < 0.2), 0)
    redo = rework * _lognormal(rng, 1.2 * _DAY_S, 0.6, n)
    handled = _daytime(dispatched + work + stuck * rng.uniform(20, 90, n) * _DAY_S + redo, rng)
    verified = _daytime(handled + _lognormal(rng, 10 * _HOUR_S, 1.1, n), rng)
    closed = _daytime(verified + _lognormal(rng, 2 * _HOUR_S, 1.2, n), rng)

    start = np.datetime64(f"{year}-01-01T00:00:00", "s")
    as_of = n_days * _DAY_S - 1
    stamps = {}
    for name, secs in (("registered_at", registered), ("dispatched_at", dispatched), ("handled_at", handled),
                       ("verified_at", verified), ("closed_at", closed)):
        secs = secs.astype(np.int64)
        reached = (secs <= as_of) & ~refused & ~merged
        stamps[name] = np.where(reached, start + secs.astype("timedelta64[s]"), np.datetime64("NaT"))
    status = np.full(n, "reported", dtype=object)
    for name, state in (("registered_at", "registered"), ("dispatched_at", "dispatched"), ("handled_at", "handled"),
                        ("verified_at", "verified"), ("closed_at", "closed")):
        status[~np.isnat(stamps[name])] = state
    status[refused], status[merged] = "refused", "merged"
    rework = np.where(np.isnat(stamps["verified_at"]), 0, rework)

    # Address: gate, building in a compound, or house number on the nearest road.
    pts = shapely.points(xy)
    road_i = shapely.STRtree(lines).query_nearest(pts, all_matches=False)[1]
    road_d = shapely.distance(pts, lines[road_i])
    chain = shapely.line_locate_point(lines[road_i], pts)
    foot = shapely.get_coordinates(shapely.line_interpolate_point(lines[road_i], chain))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[road_i], chain + 1.0))
    left = ((ahead - foot)[:, 0] * (xy - foot)[:, 1] - (ahead - foot)[:, 1] * (xy - foot)[:, 0]) > 0
    number = pd.Series(2 * (chain // 30).astype(int) + np.where(left, 1, 2)).astype(str).to_numpy()
    road_names = roads["name"].to_numpy(dtype=object)[road_i]
    address = np.where(road_d < 40, road_names + number + "号", road_names + number + "号附近")
    in_i, in_c = shapely.STRtree(compounds.geometry.to_numpy()).query(pts, predicate="within")
    comp_names = compounds["name"].to_numpy(dtype=object)
    floor = pd.Series(rng.integers(1, 25, size=len(in_i))).astype(str).to_numpy()
    address[in_i] = comp_names[in_c] + floor + "号楼下"
    at_gate = component == _COMPONENTS.index("gate")
    gate_i = shapely.STRtree(shapely.points(gates)).query_nearest(pts[at_gate], all_matches=False)[1]
    address[at_gate] = comp_names[gate_i] + gate_words[gate_i]

    # Description: an optional place word, a template of the category, an optional tail.
    flat = np.asarray([t for code in codes for t in _TEMPLATES[code]], dtype=object)
    offset = np.cumsum([0] + [len(_TEMPLATES[code]) for code in codes])
    template = flat[offset[category] + (rng.random(n) * np.diff(offset)[category]).astype(int)]
    prefix = np.asarray([_PREFIXES.get(c, "") for c in _COMPONENTS], dtype=object)[component]
    prefix = np.where(rng.random(n) < 0.4, prefix, "")
    description = prefix + template + np.asarray(_TAILS, dtype=object)[rng.choice(len(_TAILS), size=n, p=_TAIL_P)]

    mobile = pd.Series(rng.choice(list("3456789"), size=n, p=[0.3, 0.03, 0.25, 0.02, 0.12, 0.22, 0.06]))
    digits = pd.Series(rng.integers(0, 10**9, size=n)).astype(str).str.zfill(9)
    phone = np.where(rng.random(n) < _PHONE_SHARE[source], ("1" + mobile + digits).to_numpy(), "")

    lon, lat = metric_to_lonlat(xy[:, 0], xy[:, 1], crs=crs)
    frame = pd.DataFrame({
        "source": np.asarray(SOURCES, dtype=object)[source],
        "reported_at": start + reported.astype("timedelta64[s]"),
        "lon": np.round(lon, DECIMALS),
        "lat": np.round(lat, DECIMALS),
        "coord_system": "wgs84",
        "category_code": code_arr,
        "description": description,
        "address": address,
        "phone": phone,
        "status": status,
        **stamps,
        "rework_count": rework.astype(np.int64),
    })
    frame = frame.sort_values(["reported_at", "lon", "lat"], kind="stable", ignore_index=True)
    frame.insert(0, "external_id", [f"JQ{year}-{i:06d}" for i in range(1, n + 1)])
    for column in ("reported_at", *stamps):
        frame[column] = frame[column].astype("datetime64[s]")
    return frame
