"""greening plan and work records (priority roads, plan tasks 3 and 14)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('greening_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('road_id', sa.String(length=40), nullable=False),
    sa.Column('task_code', sa.String(length=40), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=False),
    sa.Column('from_m', sa.Float(), nullable=False),
    sa.Column('to_m', sa.Float(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('section_name', sa.String(length=100), nullable=True),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('greening_plan', schema=None) as batch_op:
        batch_op.create_index('ix_greening_plan_road', ['jurisdiction_code', 'year', 'road_id'], unique=False)

    op.create_geospatial_table('greening_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('road_id', sa.String(length=40), nullable=False),
    sa.Column('task_code', sa.String(length=40), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=False),
    sa.Column('from_m', sa.Float(), nullable=False),
    sa.Column('to_m', sa.Float(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('photo', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'external_id', name='uq_greening_record_external_id')
    )
    with op.batch_alter_table('greening_records', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_greening_records_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_greening_records_road', ['jurisdiction_code', 'road_id', 'done_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('greening_records', schema=None) as batch_op:
        batch_op.drop_index('ix_greening_records_road')
        batch_op.drop_geospatial_index('idx_greening_records_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('greening_records')
    with op.batch_alter_table('greening_plan', schema=None) as batch_op:
        batch_op.drop_index('ix_greening_plan_road')

    op.drop_table('greening_plan')
