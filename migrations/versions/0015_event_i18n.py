"""run and deployment events: message parameters for the reader's language

Revision ID: 0015_event_i18n
Revises: 0014_run_resources
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_event_i18n'
down_revision = '0014_run_resources'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
