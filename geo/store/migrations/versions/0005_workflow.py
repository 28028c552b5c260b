"""closed loop, accountability and coverage (filled by the workflow work)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _geometry() -> Geometry:
    return Geometry(srid=4326, dimension=2, spatial_index=False, from_text="ST_GeomFromEWKT", name="geometry",
                    nullable=False)


def upgrade() -> None:
    # A nullable column without constraints: plain ADD COLUMN works on SQLite too (no batch copy).
    op.add_column("issues", sa.Column("merged_into", sa.Integer(), nullable=True))

    op.create_geospatial_table(
        "frontage_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("road_id", sa.String(length=40), nullable=True),
        sa.Column("from_m", sa.Float(), nullable=True),
        sa.Column("to_m", sa.Float(), nullable=True),
        sa.Column("geom", _geometry(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("jurisdiction_code", "code", name="uq_frontage_unit_code"),
    )
    with op.batch_alter_table("frontage_units", schema=None) as batch_op:
        batch_op.create_geospatial_index("idx_frontage_units_geom", ["geom"], unique=False,
                                         postgresql_using="gist", postgresql_ops={})

    op.create_geospatial_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("team", sa.String(length=60), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("geom", _geometry(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_geospatial_index("idx_inspections_geom", ["geom"], unique=False,
                                         postgresql_using="gist", postgresql_ops={})
        batch_op.create_index("ix_inspections_team", ["jurisdiction_code", "team", "ended_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_team")
        batch_op.drop_geospatial_index("idx_inspections_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("inspections")
    with op.batch_alter_table("frontage_units", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_frontage_units_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("frontage_units")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_column("merged_into")
