"""decline reasons become categories; the free text leaves the plaintext columns

Revision ID: 0006
Revises: 0005

A specialist's decline reason was free text, stored in clear in
``request_decline.reason`` and in the ``declined`` event's ``detail`` and shown to
the coordinator: a place where clinical content could land unencrypted. It is now
a category (``out_of_field``, ``unavailable``, ``conflict_of_interest``, ``other``;
``no_acknowledgement`` for the dispatcher's own decline after a missed deadline),
plus an optional comment encrypted like a message (``request_decline.comment``,
bound to the row's new ``id``).

What becomes of the text already stored: it is dropped, not moved into the
encrypted comment. Encrypting it here would make the schema migration read the
data keys, which ``db upgrade`` deliberately never needs (keys and database are
separate operations and separate backups); and the text was written as a routing
note that everyone following the flow could read, not as a message to the
requester, so publishing it to the requester as a comment would change its
audience after the fact. Each old row keeps what the flow needs: the category
``other`` (or ``no_acknowledgement`` for the automatic declines, recognised by
their fixed text), its author and its time; the decline memory (never the same
specialist twice) is untouched. The old text remains in backups taken before the
upgrade, and, until the database reuses the space, in its free pages: run
``VACUUM`` (both SQLite and PostgreSQL) after upgrading to purge them.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sla.engine's automatic decline, as it was written before this revision.
OLD_NO_ACKNOWLEDGEMENT = "pas d'accusé de réception dans le délai"
# models.request.DECLINE_LABELS, frozen here as a migration must be.
LABELS = {"other": "autre motif", "no_acknowledgement": "pas d'accusé de réception dans le délai"}

declines = sa.table(
    "request_decline",
    sa.column("request_id", sa.Uuid()),
    sa.column("specialist_id", sa.Uuid()),
    sa.column("id", sa.Uuid()),
    sa.column("reason", sa.Text()),
)
events = sa.table(
    "request_event",
    sa.column("seq", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("detail", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("request_decline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.LargeBinary(), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(declines.c.request_id, declines.c.specialist_id, declines.c.reason)
    ).all()
    for request_id, specialist_id, reason in rows:
        category = "no_acknowledgement" if reason == OLD_NO_ACKNOWLEDGEMENT else "other"
        bind.execute(
            declines.update()
            .where(
                declines.c.request_id == request_id, declines.c.specialist_id == specialist_id
            )
            .values(id=uuid.uuid4(), reason=category)
        )

    declined = bind.execute(
        sa.select(events.c.seq, events.c.detail).where(events.c.kind == "declined")
    ).all()
    for seq, detail in declined:
        detail = dict(detail or {})
        category = "no_acknowledgement" if detail.get("automatic") else "other"
        kept = {k: v for k, v in detail.items() if k in ("automatic", "specialist_id")}
        bind.execute(
            events.update()
            .where(events.c.seq == seq)
            .values(detail={"reason": category, "label": LABELS[category], **kept})
        )

    with op.batch_alter_table("request_decline", schema=None) as batch_op:
        batch_op.alter_column("id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint("request_decline_id_key", ["id"])
        batch_op.alter_column(
            "reason",
            existing_type=sa.Text(),
            type_=sa.String(length=30),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("request_decline", schema=None) as batch_op:
        batch_op.alter_column(
            "reason",
            existing_type=sa.String(length=30),
            type_=sa.Text(),
            existing_nullable=False,
        )
        batch_op.drop_constraint("request_decline_id_key", type_="unique")
        batch_op.drop_column("comment")
        batch_op.drop_column("id")
