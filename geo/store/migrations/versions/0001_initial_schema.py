"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table('communities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_communities_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_communities_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('compounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('compounds', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_compounds_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_compounds_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('contractor_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_code', sa.String(length=40), nullable=False),
    sa.Column('depot_lon', sa.Float(), nullable=False),
    sa.Column('depot_lat', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('contractor_zones', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_contractor_zones_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_contractor_zones_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departments_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('file', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_skipped', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batches_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('jurisdictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('metric_crs', sa.String(length=32), nullable=False),
    sa.Column('cell_size_m', sa.Float(), nullable=False),
    sa.Column('grid_origin_x', sa.Float(), nullable=False),
    sa.Column('grid_origin_y', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_jurisdictions_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})

    op.create_geospatial_table('management_grids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('worker', sa.String(length=100), nullable=True),
    sa.Column('department_code', sa.String(length=40), nullable=True),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('management_grids', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_management_grids_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_management_grids_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('road_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('road_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('road_class', sa.String(length=20), nullable=False),
    sa.Column('is_priority', sa.Boolean(), nullable=False),
    sa.Column('oneway', sa.Boolean(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('from_m', sa.Float(), nullable=False),
    sa.Column('to_m', sa.Float(), nullable=False),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'segment_id')
    )
    with op.batch_alter_table('road_segments', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_road_segments_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_road_segments_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('roads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('road_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('road_class', sa.String(length=20), nullable=False),
    sa.Column('is_priority', sa.Boolean(), nullable=False),
    sa.Column('oneway', sa.Boolean(), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'road_id')
    )
    with op.batch_alter_table('roads', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_roads_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_roads_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('unit_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('col', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'code')
    )
    with op.batch_alter_table('unit_cells', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_unit_cells_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_unit_cells_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_geospatial_table('issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=False),
    sa.Column('source_system', sa.String(length=20), nullable=False),
    sa.Column('category_code', sa.String(length=5), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('registered_at', sa.DateTime(), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(), nullable=True),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(), nullable=True),
    sa.Column('rework_count', sa.Integer(), nullable=False),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('segment_dist_m', sa.Float(), nullable=True),
    sa.Column('compound_code', sa.String(length=20), nullable=True),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('zone_code', sa.String(length=40), nullable=True),
    sa.Column('department_code', sa.String(length=60), nullable=True),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batches.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('jurisdiction_code', 'source', 'external_id', name='uq_issue_source_external_id')
    )
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_issues_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_issues_category', ['jurisdiction_code', 'category_code'], unique=False)
        batch_op.create_index('ix_issues_department', ['jurisdiction_code', 'department_code'], unique=False)
        batch_op.create_index('ix_issues_import_batch', ['import_batch_id'], unique=False)
        batch_op.create_index('ix_issues_reported_at', ['jurisdiction_code', 'reported_at'], unique=False)
        batch_op.create_index('ix_issues_status', ['jurisdiction_code', 'status'], unique=False)

    op.create_geospatial_table('issue_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('photo', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('issue_events', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_issue_events_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_issue_events_issue', ['issue_id', 'at'], unique=False)

    op.create_table('reporter_contacts',
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=9), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('issue_id')
    )


def downgrade() -> None:
    op.drop_table('reporter_contacts')
    with op.batch_alter_table('issue_events', schema=None) as batch_op:
        batch_op.drop_index('ix_issue_events_issue')
        batch_op.drop_geospatial_index('idx_issue_events_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('issue_events')
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_index('ix_issues_status')
        batch_op.drop_index('ix_issues_reported_at')
        batch_op.drop_index('ix_issues_department')
        batch_op.drop_index('ix_issues_import_batch')
        batch_op.drop_index('ix_issues_category')
        batch_op.drop_geospatial_index('idx_issues_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('issues')
    with op.batch_alter_table('unit_cells', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_cells_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_unit_cells_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('unit_cells')
    with op.batch_alter_table('roads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roads_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_roads_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('roads')
    with op.batch_alter_table('road_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_road_segments_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_road_segments_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('road_segments')
    with op.batch_alter_table('management_grids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_management_grids_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_management_grids_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('management_grids')
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.drop_geospatial_index('idx_jurisdictions_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('jurisdictions')
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batches_jurisdiction_code'))

    op.drop_table('import_batches')
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departments_jurisdiction_code'))

    op.drop_table('departments')
    with op.batch_alter_table('contractor_zones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contractor_zones_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_contractor_zones_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('contractor_zones')
    with op.batch_alter_table('compounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compounds_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_compounds_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('compounds')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communities_jurisdiction_code'))
        batch_op.drop_geospatial_index('idx_communities_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('communities')
