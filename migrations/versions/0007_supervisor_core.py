"""supervisor core: fenced lease epoch, GPU allocations, port reservations, run numbers, kill time

Revision ID: 0007_supervisor_core
Revises: 0006_deid_jobs
Create Date: 2026-12-01 22:40:00.000000

"""
import socket
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_supervisor_core'
down_revision = '0006_deid_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gpu_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('gpu_uuid', sa.String(length=100), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.String(length=64), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gpu_allocations')),
    sa.UniqueConstraint('host', 'gpu_uuid', name=op.f('uq_gpu_allocations_host'))
    )
    with op.batch_alter_table('gpu_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gpu_allocations_holder_id'), ['holder_id'], unique=False)

    op.create_table('port_reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.String(length=64), nullable=False),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_port_reservations')),
    sa.UniqueConstraint('host', 'port', name=op.f('uq_port_reservations_host'))
    )
    with op.batch_alter_table('port_reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_reservations_holder_id'), ['holder_id'], unique=False)

    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runs_created', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kill_sent_at', sa.DateTime(timezone=True), nullable=True))
    # numbers go on from the highest each project used
    op.execute("UPDATE projects SET runs_created = COALESCE("
               "(SELECT MAX(runs.number) FROM runs WHERE runs.project_id = projects.id), 0)")
    # the GPUs of runs going at upgrade time are held in the new table from now on
    conn = op.get_bind()
    runs = sa.table('runs', sa.column('id', sa.Integer), sa.column('status', sa.String),
                    sa.column('gpus', sa.JSON))
    allocations = sa.table('gpu_allocations', sa.column('host', sa.String), sa.column('gpu_uuid', sa.String),
                           sa.column('holder_kind', sa.String), sa.column('holder_id', sa.String),
                           sa.column('allocated_at', sa.DateTime(timezone=True)))
    going = conn.execute(sa.select(runs.c.id, runs.c.gpus)
                         .where(runs.c.status.in_(('starting', 'running', 'stopping')))).all()
    rows = [{'host': socket.gethostname(), 'gpu_uuid': uuid, 'holder_kind': 'run', 'holder_id': str(run_id),
             'allocated_at': datetime.now(timezone.utc)} for run_id, gpus in going for uuid in gpus or []]
    if rows:
        conn.execute(allocations.insert(), rows)


def downgrade():
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('kill_sent_at')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('runs_created')
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.drop_column('epoch')
    with op.batch_alter_table('port_reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_port_reservations_holder_id'))
    op.drop_table('port_reservations')
    with op.batch_alter_table('gpu_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gpu_allocations_holder_id'))
    op.drop_table('gpu_allocations')
