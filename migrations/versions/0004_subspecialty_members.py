"""sub-specialty members found by their sub-specialty

Revision ID: 0004
Revises: 0003

The dispatcher's first set look-up is "who covers this sub-specialty?". The
primary key of ``user_subspecialty`` starts with the user, so the database read
the whole table to answer it at every decision; this index answers it with one
range, covering the user ids it returns.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_user_subspecialty_members",
        "user_subspecialty",
        ["subspecialty_code", "user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_user_subspecialty_members", table_name="user_subspecialty")
