"""notifications: channels, outbox events, deliveries, rule state

Revision ID: 0012_notifications
Revises: 0011_project_slurm
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_notifications'
down_revision = '0011_project_slurm'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
