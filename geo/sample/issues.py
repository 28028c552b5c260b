"""A simulated year of issues on the sample layers (sources, seasons, hot spots, lifecycles).

Nothing here is surveyed; see :mod:`geo.sample`.
"""

from __future__ import annotations

import chinese_calendar
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import metric_to_lonlat, to_metric
from geo.sample.layers import DECIMALS

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
                seed: int = 20250101, refused_share: float = 0.03, merged_share: float = 0.01,
                snapshot_days: int | None = None) -> pd.DataFrame:
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
    5 % rework, 3 % refused and 1 % merged duplicates (by default); the snapshot is
    taken at the end of 31 December (by default), so recent issues are still open.

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
    refused_share, merged_share : float, keyword-only
        Shares of the reports refused and merged as duplicates (0 to 0.5 each).
    snapshot_days : int, optional, keyword-only
        Days after 1 January of ``year`` at whose start the lifecycle is seen (stages
        later than that are not reached yet); default the end of ``year``. A later
        snapshot lets the issues of an earlier year of a longer export close.

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
    for name, share in (("refused_share", refused_share), ("merged_share", merged_share)):
        if not 0 <= share <= 0.5:
            raise ValueError(f"{name}={share!r}: expected a share from 0 to 0.5")
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
    dup, orig = np.split(rng.choice(n, size=2 * round(merged_share * n), replace=False), 2)
    merged[dup] = True
    moved = xy[orig] + rng.normal(0.0, 8.0, size=(len(orig), 2))
    xy[dup] = np.where(shapely.contains_xy(inner, moved[:, 0], moved[:, 1])[:, None], moved, xy[orig])
    category[dup], component[dup], day[dup] = category[orig], component[orig], day[orig]
    to_midnight = _DAY_S - reported[orig] % _DAY_S
    reported[dup] = reported[orig] + (rng.uniform(0.05, 1.0, len(dup)) * np.minimum(6 * _HOUR_S, to_midnight - 1)).astype(int)
    refused = ~merged & (rng.random(n) < refused_share)

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
    as_of = (n_days if snapshot_days is None else snapshot_days) * _DAY_S - 1
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
