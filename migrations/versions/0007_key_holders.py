"""running servers and the data keys they hold

Revision ID: 0007
Revises: 0006

Every ``serve`` process says here which key versions it holds and which one it
encrypts under, with a heartbeat; ``keys rotate`` waits for the running servers to
take up a new key and ``keys retire`` refuses while a live one still writes under
the key being retired.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_holder",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("key_holder")
