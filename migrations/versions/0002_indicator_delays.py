"""indicator delays and indexes (issue 7)

The delays the indicators count become columns of the request, written by
``models.history.record`` at every change; this fills them for the rows already there
(the same rules as ``models.history.measure``) and adds the indexes the indicators read
instead of the wide rows.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD_INCLUDE = [
    "priority",
    "specialty_code",
    "subspecialty_code",
    "assignee_id",
    "status",
    "outcome",
    "response_hours",
    "acknowledge_hours",
    "appointment_days",
    "answered_in_time",
    "usefulness",
    "referral_avoided",
]
CELLS = [
    "priority",
    "specialty_code",
    "subspecialty_code",
    "assignee_id",
    "submitted_at",
    "status",
    "outcome",
    "response_hours",
    "acknowledge_hours",
    "appointment_days",
    "answered_in_time",
    "usefulness",
    "referral_avoided",
]


def _hours(dialect: str, later: str, earlier: str) -> str:
    """Calendar hours from ``earlier`` to ``later`` in SQL (SQLite: to the millisecond)."""
    if dialect == "postgresql":
        return f"extract(epoch from {later} - {earlier}) / 3600.0"
    return f"(julianday({later}) - julianday({earlier})) * 24.0"


def upgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_hours", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("acknowledge_hours", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("appointment_days", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("answered_in_time", sa.Boolean(), nullable=True))

    dialect = op.get_bind().dialect.name
    true = "true" if dialect == "postgresql" else "1"
    false = "false" if dialect == "postgresql" else "0"
    # The rules of models.history.measure: a cancelled request counts in no delay; an
    # appointment only after an answer leading to a consultation.
    op.execute(
        f"""
        UPDATE request SET
            response_hours = CASE WHEN answered_at IS NOT NULL
                THEN {_hours(dialect, "answered_at", "submitted_at")} END,
            acknowledge_hours = CASE WHEN accepted_at IS NOT NULL
                THEN {_hours(dialect, "accepted_at", "submitted_at")} END,
            appointment_days = CASE
                WHEN answered_at IS NOT NULL AND appointment_at IS NOT NULL
                    AND outcome IN ('consultation', 'advanced_consultation')
                THEN {_hours(dialect, "appointment_at", "answered_at")} / 24.0 END,
            answered_in_time = CASE
                WHEN answered_at IS NULL OR answer_due_at IS NULL THEN NULL
                WHEN answered_at <= answer_due_at THEN {true} ELSE {false} END
        WHERE status != 'cancelled' AND (answered_at IS NOT NULL OR accepted_at IS NOT NULL)
        """
    )

    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_indicator_period",
            ["submitted_at"],
            unique=False,
            postgresql_include=PERIOD_INCLUDE,
            sqlite_where=sa.text("0"),  # PostgreSQL's: empty on SQLite
        )
        batch_op.create_index(
            "ix_request_indicator_cells",
            CELLS,
            unique=False,
            postgresql_where=sa.text("false"),  # SQLite's: empty on PostgreSQL
        )
        batch_op.create_index(
            "ix_request_response_hours", ["response_hours", "submitted_at"], unique=False
        )
        batch_op.create_index(
            "ix_request_acknowledge_hours", ["acknowledge_hours", "submitted_at"], unique=False
        )
        batch_op.create_index(
            "ix_request_appointment_days", ["appointment_days", "submitted_at"], unique=False
        )


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch would copy the table and
    # lose what other migrations attached to it (triggers).
    for name in (
        "ix_request_appointment_days",
        "ix_request_acknowledge_hours",
        "ix_request_response_hours",
        "ix_request_indicator_cells",
        "ix_request_indicator_period",
    ):
        op.drop_index(name, table_name="request")
    for name in ("answered_in_time", "appointment_days", "acknowledge_hours", "response_hours"):
        op.drop_column("request", name)
