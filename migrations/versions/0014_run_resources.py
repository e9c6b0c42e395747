"""runs and projects: GPU idle guard, checkpoint clean-up policy

Revision ID: 0014_run_resources
Revises: 0013_run_tracking
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_run_resources'
down_revision = '0013_run_tracking'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
