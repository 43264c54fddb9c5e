"""specialist open count kept by the database

Revision ID: 0003
Revises: 0002

The dispatcher compares each specialist's open requests (assigned, accepted,
awaiting information) with their capacity. Counting them per member at every
decision made the decision grow with the history of the pool; the count is now
a column of ``user``, kept by triggers on ``request`` so that no code path,
present or future, can forget to maintain it. The pool index now covers every
column the decision reads, and current absences are found by their end.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.lifecycle.WITH_SPECIALIST, frozen here as a migration must be.
OPEN = "('assigned', 'accepted', 'awaiting_info')"

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER request_open_count_insert AFTER INSERT ON request
    WHEN NEW.assignee_id IS NOT NULL AND NEW.status IN {OPEN}
    BEGIN
        UPDATE "user" SET open_count = open_count + 1 WHERE id = NEW.assignee_id;
    END
    """,
    f"""
    CREATE TRIGGER request_open_count_update AFTER UPDATE OF status, assignee_id ON request
    WHEN OLD.assignee_id IS NOT NEW.assignee_id
        OR (OLD.status IN {OPEN}) IS NOT (NEW.status IN {OPEN})
    BEGIN
        UPDATE "user" SET open_count = open_count - 1
            WHERE id = OLD.assignee_id AND OLD.status IN {OPEN};
        UPDATE "user" SET open_count = open_count + 1
            WHERE id = NEW.assignee_id AND NEW.status IN {OPEN};
    END
    """,
    f"""
    CREATE TRIGGER request_open_count_delete AFTER DELETE ON request
    WHEN OLD.assignee_id IS NOT NULL AND OLD.status IN {OPEN}
    BEGIN
        UPDATE "user" SET open_count = open_count - 1 WHERE id = OLD.assignee_id;
    END
    """,
]

POSTGRES_TRIGGERS = [
    f"""
    CREATE FUNCTION request_open_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF OLD.assignee_id IS NOT NULL AND OLD.status IN {OPEN} THEN
                UPDATE "user" SET open_count = open_count - 1 WHERE id = OLD.assignee_id;
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NEW.assignee_id IS NOT NULL AND NEW.status IN {OPEN} THEN
                UPDATE "user" SET open_count = open_count + 1 WHERE id = NEW.assignee_id;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER request_open_count_insert AFTER INSERT OR DELETE ON request
    FOR EACH ROW EXECUTE FUNCTION request_open_count()
    """,
    f"""
    CREATE TRIGGER request_open_count_update AFTER UPDATE OF status, assignee_id ON request
    FOR EACH ROW
    WHEN (OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR (OLD.status IN {OPEN}) IS DISTINCT FROM (NEW.status IN {OPEN}))
    EXECUTE FUNCTION request_open_count()
    """,
]


POOL_COLUMNS = [
    "specialty_code",
    "rotation",
    "role",
    "id",
    "active",
    "open_count",
    "capacity",
    "name",
]


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_index("ix_user_pool_rotation")
        batch_op.create_index("ix_user_pool", POOL_COLUMNS, unique=False)
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.create_index("ix_absence_current", ["end_at", "start_at", "user_id"], unique=False)
    op.execute(
        f"""
        UPDATE "user" SET open_count = (
            SELECT count(*) FROM request
            WHERE request.assignee_id = "user".id AND request.status IN {OPEN}
        )
        """
    )
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER request_open_count_update ON request")
        op.execute("DROP TRIGGER request_open_count_insert ON request")
        op.execute("DROP FUNCTION request_open_count()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER request_open_count_{name}")
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.drop_index("ix_absence_current")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_pool")
        batch_op.create_index("ix_user_pool_rotation", ["specialty_code", "rotation"], unique=False)
        batch_op.drop_column("open_count")
