"""The reference layers' tables (jurisdiction, departments, communities, compounds, grids, zones, unit
cells, roads and their segments) and the declarative base every table of :mod:`geo.store.models` shares.

Geometries are WGS84 lon/lat (SRID 4326); every row carries ``jurisdiction_code``.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326

def geometry_column(kind: str, *, nullable: bool = False) -> Mapped:
    return mapped_column(Geometry(kind, srid=SRID, spatial_index=True), nullable=nullable)


class Base(DeclarativeBase):
    pass


class Jurisdiction(Base):
    """A sub-district (街道) and the definition of its unit grid."""

    __tablename__ = "jurisdictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    district_code: Mapped[str] = mapped_column(String(6))
    metric_crs: Mapped[str] = mapped_column(String(32))
    cell_size_m: Mapped[float] = mapped_column(Float)
    grid_origin_x: Mapped[float] = mapped_column(Float)
    grid_origin_y: Mapped[float] = mapped_column(Float)
    geom = geometry_column("GEOMETRY")


class Department(Base):
    """A responsible department (责任科室), contractor or community team."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent: Mapped[str | None] = mapped_column(String(40))


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    geom = geometry_column("GEOMETRY")


class Compound(Base):
    """A residential compound (小区)."""

    __tablename__ = "compounds"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str | None] = mapped_column(String(12))
    geom = geometry_column("GEOMETRY")


class ManagementGrid(Base):
    """A management grid (网格) with its grid worker."""

    __tablename__ = "management_grids"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str | None] = mapped_column(String(12))
    worker: Mapped[str | None] = mapped_column(String(100))
    department_code: Mapped[str | None] = mapped_column(String(40))
    geom = geometry_column("GEOMETRY")


class ContractorZone(Base):
    """A sanitation contractor zone (西片 / 东片 环卫一体化) with its depot."""

    __tablename__ = "contractor_zones"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str] = mapped_column(String(40))
    depot_lon: Mapped[float] = mapped_column(Float)
    depot_lat: Mapped[float] = mapped_column(Float)
    geom = geometry_column("GEOMETRY")


class UnitCell(Base):
    """A 100 m unit grid cell (万米单元网格) with its 15-character code."""

    __tablename__ = "unit_cells"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str | None] = mapped_column(String(12))
    col: Mapped[int] = mapped_column(Integer)
    row: Mapped[int] = mapped_column(Integer)
    geom = geometry_column("GEOMETRY")


class Road(Base):
    __tablename__ = "roads"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "road_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    road_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    road_class: Mapped[str] = mapped_column(String(20))
    is_priority: Mapped[bool] = mapped_column(Boolean)
    oneway: Mapped[bool] = mapped_column(Boolean)
    geom = geometry_column("GEOMETRY")


class RoadSegment(Base):
    """A piece of a road between intersections, at most ~200 m, with its chainage."""

    __tablename__ = "road_segments"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "segment_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    segment_id: Mapped[int] = mapped_column(Integer)
    road_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    road_class: Mapped[str] = mapped_column(String(20))
    is_priority: Mapped[bool] = mapped_column(Boolean)
    oneway: Mapped[bool] = mapped_column(Boolean)
    seq: Mapped[int] = mapped_column(Integer)
    from_m: Mapped[float] = mapped_column(Float)
    to_m: Mapped[float] = mapped_column(Float)
    length_m: Mapped[float] = mapped_column(Float)
    geom = geometry_column("LINESTRING")
