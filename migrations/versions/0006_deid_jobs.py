"""deid jobs

Revision ID: 0006_deid_jobs
Revises: 0005_train_configs
Create Date: 2026-11-27 03:37:57.753220

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_deid_jobs'
down_revision = '0005_train_configs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deid_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('policy_id', sa.String(length=64), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('with_mapping', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bytes_total', sa.BigInteger(), nullable=False),
    sa.Column('bytes_done', sa.BigInteger(), nullable=False),
    sa.Column('output_id', sa.String(length=36), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('samples', sa.JSON(), nullable=True),
    sa.Column('mapping_file', sa.String(length=500), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_deid_jobs_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_deid_jobs_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deid_jobs'))
    )
    with op.batch_alter_table('deid_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deid_jobs_dataset_id'), ['dataset_id'], unique=False)



def downgrade():
    with op.batch_alter_table('deid_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deid_jobs_dataset_id'))

    op.drop_table('deid_jobs')
