"""Alembic environment: migrations run on the connection citymap hands over."""

from alembic import context
from geoalchemy2 import alembic_helpers

from geo.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through geo.store.db.init_db (or `citymap init-db`)")



def include_name(name, type_, parent_names):
    # Only our own tables: SpatiaLite's and PostGIS's metadata tables are not ours to migrate.
    if type_ == "table":
        return name in Base.metadata.tables
    return True


context.configure(
    connection=connection,
    include_name=include_name,
    target_metadata=Base.metadata,
    include_object=alembic_helpers.include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
