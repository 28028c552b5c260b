"""What a request handler needs of the app it runs in: the engine, the settings, the layers.

:func:`webmap.app.create_app` puts them on the app (:func:`install`); blueprints read
them from here and never import the factory.
"""

from __future__ import annotations

import geopandas as gpd
from flask import Flask, current_app
from sqlalchemy import Engine

from geo import store
from geo.errors import NotFoundError
from geo.io.ingest import LayerCache, ReadyLayers
from geo.settings import Settings


def install(app: Flask, settings: Settings, engine: Engine) -> None:
    """Keep ``settings``, ``engine`` and an empty layer cache on ``app``."""
    app.extensions["citymap.settings"] = settings
    app.extensions["citymap.engine"] = engine
    app.extensions["citymap.layers"] = LayerCache()


def engine_of(app: Flask) -> Engine:
    """The app's database engine."""
    return app.extensions["citymap.engine"]


def settings_of(app: Flask) -> Settings:
    """The app's settings, read once when the app was made."""
    return app.extensions["citymap.settings"]


def layers_of(app: Flask) -> ReadyLayers:
    """The jurisdiction's layers and assignment indexes, kept between requests until a layer import."""
    return app.extensions["citymap.layers"].get(engine_of(app), jurisdiction_code=settings_of(app).jurisdiction_code)


def jurisdiction_boundary() -> gpd.GeoDataFrame:
    """The boundary of the current app's jurisdiction (one row, EPSG:4326), for every map.

    Raises
    ------
    geo.errors.NotFoundError
        The database holds no such jurisdiction yet (nothing loaded).
    """
    engine, settings = engine_of(current_app), settings_of(current_app)
    boundary = store.read_layer(engine, "jurisdiction", jurisdiction_code=settings.jurisdiction_code)
    if boundary.empty:
        raise NotFoundError(f"数据库中没有辖区 {settings.jurisdiction_code} 的数据：请先运行 citymap load-sample 或导入数据。")
    return boundary
