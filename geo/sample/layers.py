"""The sample's reference layers of 金桥街道: boundary, roads, communities, compounds, grids, zones, cells.

Nothing here is surveyed; see :mod:`geo.sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.interpolate import CubicSpline
from shapely.geometry import LineString, Polygon

from geo.crs import WGS84, to_wgs84
from geo.frames.segments import split_roads
from geo.frames.unit_grid import build_unit_grid

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


