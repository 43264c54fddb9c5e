"""single-use account links and the credentials version of each account

Revision ID: 0010
Revises: 0009

``account_token`` holds the digest of each invitation, password-reset and e-mail
confirmation link (never the link itself). ``user.credentials_version`` is raised when
an account's password changes or the account is deactivated: login tokens and session
cookies issued under an older version are refused.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy on SQLite: it would drop the triggers of 0003).
    op.add_column(
        "user", sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "account_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index(
        "ix_account_token_user_purpose", "account_token", ["user_id", "purpose"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_account_token_user_purpose", table_name="account_token")
    op.drop_table("account_token")
    op.drop_column("user", "credentials_version")
