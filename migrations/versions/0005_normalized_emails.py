"""e-mail addresses stored in their compared form (NFKC, lower case)

Revision ID: 0005
Revises: 0004

Addresses are compared NFKC-normalised and case-insensitively, so that a
full-width or ligature spelling of an address is the same account; the unique
constraint on ``user.email`` holds that form. Addresses stored before were only
lower-cased: this brings them to the same form (the rule is written out here so
that a later change to the application's rule cannot change this migration).
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

user = sa.table("user", sa.column("id"), sa.column("email"))


def _normalized(email: str) -> str:
    folded = unicodedata.normalize("NFKC", email).strip().lower()
    return unicodedata.normalize("NFKC", folded)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(user.c.id, user.c.email)).all()
    owner: dict[str, object] = {}
    for row in rows:
        owner.setdefault(_normalized(row.email), row.id)
    clashes = [row.id for row in rows if owner[_normalized(row.email)] != row.id]
    if clashes:
        raise RuntimeError(
            f"{len(clashes)} account(s) share an address with another once normalised "
            f"(user ids {', '.join(str(i) for i in clashes)}): merge or rename them first"
        )
    for row in rows:
        normalized = _normalized(row.email)
        if normalized != row.email:
            bind.execute(user.update().where(user.c.id == row.id).values(email=normalized))


def downgrade() -> None:
    # The normalised addresses are valid addresses: nothing to undo.
    pass
