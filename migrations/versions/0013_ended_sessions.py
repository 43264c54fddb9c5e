"""sessions ended by logging out, refused until their tokens expire

Revision ID: 0013
Revises: 0012

« Se déconnecter » deleted the cookie but a copy of it stayed valid (and renewable) until
it expired. ``ended_session`` keeps the id of each session its owner ended, until every
token of it has expired (``expires_at``, purged at each logout); a token carrying one is
refused. Tokens issued before this migration carry no session id and keep working until
they expire (at most a day).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ended_session",
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_ended_session_expires_at", "ended_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ended_session_expires_at", table_name="ended_session")
    op.drop_table("ended_session")
