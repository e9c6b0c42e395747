"""run and deployment events and status reasons: the message id and parameters for the reader's language

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

# (table, column): the English text stays where it was; older rows have no i18n and show it
COLUMNS = [("logs", "i18n"), ("deployment_events", "i18n"),
           ("runs", "status_reason_i18n"), ("deployments", "status_reason_i18n")]


def upgrade():
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column(column, sa.JSON(), nullable=True))


def downgrade():
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(column)
