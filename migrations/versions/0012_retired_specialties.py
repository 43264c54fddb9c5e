"""specialties and sub-specialties can be retired (and put back in service)

Revision ID: 0012
Revises: 0011

``specialty.retired_at`` and ``subspecialty.retired_at``: when the coordinator retired
it, NULL while in service. A retired one is no longer offered to new requests nor
given to specialists; requests, history, indicators and the specialists who cover it
keep its code and name, which is why a code is never deleted. A timestamp rather than
a flag: it says since when (the audit trail says who), at no extra cost. Existing rows
stay in service.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN on both databases, no table copy on SQLite.
    for table in ("specialty", "subspecialty"):
        op.add_column(
            table,
            sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        )


def downgrade() -> None:
    for table in ("subspecialty", "specialty"):
        op.drop_column(table, "retired_at")
