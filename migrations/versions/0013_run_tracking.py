"""runs: snapshot, tags and note; compare

Revision ID: 0013_run_tracking
Revises: 0012_notifications
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_run_tracking'
down_revision = '0012_notifications'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
