"""The files an office starts from, made up for a corner of 金桥街道: the README's walkthrough runs on them.

A boundary of about 1 km² (with a notch in its north side that one street leaves and
re-enters), two community polygons whose code column holds each community's 3-digit
number, an OpenStreetMap extract (``.osm`` XML) of nine ways — a primary and a secondary
road crossing, a tertiary street through the notch, a one-way residential street with
a hostile name, a service lane drawn against its one-way direction, a living street
named by ``name:zh``, an unnamed footway, a path and a road outside the boundary — and
a 12345 export in GCJ-02 with one row outside the jurisdiction and one of an unknown
category. Nothing here is surveyed; the place names are illustrative.

Written by ``scripts/make_office_files.py`` and by the tests of the walkthrough.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Polygon, box

from geo.crs import WGS84, wgs84_to_gcj02

#: the file names, as the README's walkthrough uses them
FILE_NAMES = {"boundary": "boundary.geojson", "communities": "communities.geojson", "streets": "streets.osm",
              "export": "12345-export.csv"}
#: a road name no template or page may run
HOSTILE_NAME = "{{7*7}} </script><script>alert(1)</script> 金桥里"

# lon, lat of the boundary: a rectangle of 0.012° × 0.008° with a notch in the north side
_BOUNDARY = [(117.3500, 39.0950), (117.3620, 39.0950), (117.3620, 39.1030), (117.3575, 39.1030),
             (117.3575, 39.1015), (117.3545, 39.1015), (117.3545, 39.1030), (117.3500, 39.1030)]
_COMMUNITIES = (("001", "金泰社区", box(117.3495, 39.0945, 117.3560, 39.1035)),
                ("002", "金顺社区", box(117.3560, 39.0945, 117.3625, 39.1035)))
# node id → (lon, lat); ways share nodes where they meet, as OpenStreetMap's do
_NODES = {
    1: (117.3480, 39.0990), 2: (117.3530, 39.0990), 3: (117.3560, 39.0990), 4: (117.3590, 39.0990),
    5: (117.3640, 39.0990), 6: (117.3530, 39.0940), 7: (117.3530, 39.1040), 8: (117.3510, 39.1022),
    9: (117.3610, 39.1022), 10: (117.3590, 39.0960), 11: (117.3590, 39.1010), 12: (117.3560, 39.0970),
    13: (117.3510, 39.0960), 14: (117.3530, 39.0960), 15: (117.3600, 39.0970), 16: (117.3615, 39.0970),
    17: (117.3505, 39.0955), 18: (117.3515, 39.0975), 19: (117.3480, 39.0900), 20: (117.3640, 39.0900),
}
# way id, node ids, tags
_WAYS = (
    (101, (1, 2, 3, 4, 5), {"highway": "primary", "name": "津北公路", "name:zh": "津北公路"}),
    (102, (6, 14, 2, 7), {"highway": "secondary", "name": "先锋东路"}),
    (103, (8, 9), {"highway": "tertiary", "name": "金桥路"}),
    (104, (10, 4, 11), {"highway": "residential", "name": HOSTILE_NAME, "oneway": "yes"}),
    (105, (3, 12), {"highway": "service", "name": "金桥小巷", "oneway": "-1"}),
    (106, (13, 14), {"highway": "living_street", "name": "Xingfu Li", "name:zh": "幸福里"}),
    (107, (15, 16), {"highway": "footway"}),
    (108, (17, 18), {"highway": "path", "name": "绿道"}),
    (109, (19, 20), {"highway": "primary", "name": "外环线"}),
)
# 工单编号, 受理时间, WGS84 lon, lat (None: the address places it), 地址, 问题类型, 问题描述, 联系电话
_EXPORT = (
    ("GD202611010001", "2026-11-01 08:12:00", 117.3540, 39.0991, "津北公路先锋东路口东", "垃圾堆放", "路口东侧垃圾成堆", "13800138000"),
    ("GD202611020002", "2026-11-02 09:30:00", 117.3591, 39.1000, "金桥里", "小广告", "电线杆上贴满小广告", ""),
    ("GD202611030003", "2026-11-03 14:05:00", 117.3520, 39.0965, "幸福里", "建筑垃圾", "装修垃圾倒在路边", "022-24371234"),
    ("GD202611040004", "2026-11-04 10:45:00", 117.3575, 39.0975, "金桥小巷", "占道经营", "早市摊位占道", ""),
    ("GD202611050005", "2026-11-05 16:20:00", 117.3605, 39.0971, "金顺社区", "垃圾堆放", "绿地旁有垃圾", ""),
    ("GD202611060006", "2026-11-06 07:55:00", 117.3700, 39.0990, "外环线", "垃圾堆放", "外环线辅路垃圾", ""),
    ("GD202611070007", "2026-11-07 11:10:00", 117.3550, 39.0992, "津北公路", "垃圾很多", "到处都是垃圾", ""),
    ("GD202611080008", "2026-11-08 13:00:00", None, None, "先锋东路", "道路不洁", "路面有泥土", ""),
)


def write_office_files(folder: str | Path) -> dict[str, Path]:
    """Write the four files into ``folder`` (made if missing); returns kind → path (:data:`FILE_NAMES`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, name in FILE_NAMES.items()}
    gpd.GeoDataFrame({"名称": ["金桥街道（示例一角）"]}, geometry=[Polygon(_BOUNDARY)], crs=WGS84).to_file(
        paths["boundary"], driver="GeoJSON")
    gpd.GeoDataFrame({"社区代码": [c for c, _, _ in _COMMUNITIES], "名称": [n for _, n, _ in _COMMUNITIES]},
                     geometry=[g for _, _, g in _COMMUNITIES], crs=WGS84).to_file(paths["communities"], driver="GeoJSON")
    write_osm_xml(paths["streets"], _NODES, _WAYS)
    export = pd.DataFrame(list(_EXPORT), columns=["工单编号", "受理时间", "经度", "纬度", "地址", "问题类型",
                                                 "问题描述", "联系电话"])
    # the hotline's points are GCJ-02, as AMap gives them; a row without one is placed by its address
    lon, lat = wgs84_to_gcj02(export["经度"].astype(float).fillna(0).to_numpy(),
                              export["纬度"].astype(float).fillna(0).to_numpy())
    placed = export["经度"].notna()
    export["经度"] = pd.Series(lon).map("{:.6f}".format).where(placed, "")
    export["纬度"] = pd.Series(lat).map("{:.6f}".format).where(placed, "")
    export.to_csv(paths["export"], index=False, encoding="utf-8-sig")
    return paths


def write_osm_xml(path: str | Path, nodes: dict[int, tuple[float, float]],
                  ways: tuple[tuple[int, tuple[int, ...], dict[str, str]], ...]) -> Path:
    """An OpenStreetMap XML file (API 0.6) of nodes (id → lon, lat) and ways (id, node ids, tags).

    Tag values are written as XML text, escaped by ElementTree, so any name is data.
    """
    root = ET.Element("osm", version="0.6", generator="citymap")
    for node_id, (lon, lat) in nodes.items():
        ET.SubElement(root, "node", id=str(node_id), version="1", lat=f"{lat:.7f}", lon=f"{lon:.7f}")
    for way_id, refs, tags in ways:
        way = ET.SubElement(root, "way", id=str(way_id), version="1")
        for ref in refs:
            ET.SubElement(way, "nd", ref=str(ref))
        for key, value in tags.items():
            ET.SubElement(way, "tag", k=key, v=value)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return Path(path)
