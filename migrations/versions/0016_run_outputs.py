"""runs: where LLaMA-Factory writes the outputs (output_dir from the training config)

Revision ID: 0016_run_outputs
Revises: 0015_event_i18n
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_run_outputs'
down_revision = '0015_event_i18n'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
