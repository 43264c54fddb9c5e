"""a pending request waiting for the ESS to open

Revision ID: 0008
Revises: 0007

``request.waiting_until``: set while a request sent when the calendar is closed waits
for the next opening, at which someone of its pool will be eligible (no alarm then);
empty otherwise.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite 3.35+ drops a column in place): a batch
# operation would rebuild the table on SQLite and lose the triggers of migration 0003.


def upgrade() -> None:
    op.add_column(
        "request", sa.Column("waiting_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("request", "waiting_until")
