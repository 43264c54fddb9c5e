"""Rows for bulk-loaded benchmark databases, consistent with what the service itself writes.

A request row is built by replaying its life (submission, assignment, acceptance,
request for information, answer, closure or cancellation) through the service's own
deadline functions (``sla.deadlines``) on a plain namespace, so every deadline, level,
``sla_state`` and ``sla_next_at`` is the value the service would have stored. Clinical
text goes into its column as the column asks: sealed by ``security.vault.Vault`` (bound
to its row and field, under a key ring generated for the run) when the column is binary,
plain otherwise; ``patient_key`` is the vault's pseudonym of the patient. Rows are plain
dicts keyed by column name, ready for a Core ``insert`` executemany or, in ``COLUMNS``
order, for PostgreSQL's ``COPY``.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from models import PatientIdentity, Priority, Request, Role, Status, User
from security.crypto import KeyRing
from security.vault import Vault
from sla.deadlines import (
    SlaPolicy,
    pause_answer_clock,
    refresh,
    start_acknowledge_clock,
    start_answer_clock,
)

REQUEST_TABLE = Request.__table__  # type: ignore[attr-defined]
USER_TABLE = User.__table__  # type: ignore[attr-defined]
COLUMNS: tuple[str, ...] = tuple(column.name for column in REQUEST_TABLE.columns)

QUESTION = "Palpitations depuis trois semaines, ECG joint : FA paroxystique ?"
ANSWER = "Holter de 24 h puis consultation de rythmologie sous un mois ; pas d'urgence."
FIRST_NAMES = ("Jeanne", "Louis", "Marie", "Ahmed", "Camille", "Jean", "Fatou", "Hugo")
LAST_NAMES = ("Durand", "Martin", "Bernard", "Petit", "Robert", "Richard", "Moreau", "Simon")
VAULT = Vault(KeyRing.generate())

# Offsets of each step of a request's life after the previous one.
ASSIGN_AFTER = timedelta(seconds=1)
ACCEPT_AFTER = timedelta(minutes=20)
ASK_INFO_AFTER = timedelta(minutes=5)
ANSWER_AFTER = timedelta(hours=3)
CLOSE_AFTER = timedelta(days=1)

# Statuses in the order of a request's life; CANCELLED is handled apart.
LIFE = (
    Status.PENDING,
    Status.ASSIGNED,
    Status.ACCEPTED,
    Status.AWAITING_INFO,
    Status.ANSWERED,
    Status.CLOSED,
)


@cache
def _template(model: Any) -> tuple[dict[str, Any], dict[str, Any], frozenset[str], frozenset[str]]:
    """(constant defaults, default factories, columns that must be given, all columns)."""
    table = model.__table__
    constants: dict[str, Any] = {}
    factories: dict[str, Any] = {}
    required = set()
    for column in table.columns:
        name = column.name
        field = model.model_fields.get(name)
        if column is table.autoincrement_column:
            continue  # the database numbers it
        if field is not None and field.default_factory is not None:
            factories[name] = field.default_factory
        elif field is not None and not field.is_required():
            constants[name] = field.default
        elif column.nullable:
            constants[name] = None
        else:
            required.add(name)
    names = frozenset(column.name for column in table.columns)
    return constants, factories, frozenset(required), names


def model_row(model: Any, **values: Any) -> dict[str, Any]:
    """A full row of ``model``'s table: ``values``, else the model's defaults, else NULL.

    The schema evolves under the benchmarks: a NOT NULL column they do not know and
    that has no default stops the load with its name rather than failing in the database.
    """
    constants, factories, required, names = _template(model)
    if not required <= values.keys():
        missing = ", ".join(sorted(required - values.keys()))
        raise ValueError(f"{model.__name__}: the benchmark does not set NOT NULL {missing}")
    if not values.keys() <= names:
        unknown = ", ".join(sorted(values.keys() - names))
        raise ValueError(f"{model.__name__} has no column {unknown}")
    row = dict(constants)
    for name, factory in factories.items():
        if name not in values:
            row[name] = factory()
    row.update(values)
    return row


class Patients:
    """A fixed set of patients (identity as JSON, and its pseudonym) that requests draw from."""

    def __init__(self, count: int) -> None:
        self.identities: list[tuple[str, str]] = []
        for index in range(count):
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            born = date(1930, 1, 1) + timedelta(days=(index * 37) % 30_000)
            identity = PatientIdentity(
                first_name=first, last_name=last, birth_date=born, sex="F" if index % 2 else "M"
            )
            key = VAULT.patient_key(
                ins=None, last_name=last, first_name=first, birth_date=born.isoformat()
            )
            self.identities.append((identity.model_dump_json(), key))

    def __getitem__(self, index: int) -> tuple[str, str]:
        return self.identities[index % len(self.identities)]


PATIENTS = Patients(1000)


def clinical(request_id: uuid.UUID, field: str, text: str | None) -> str | bytes | None:
    """A clinical field as its column stores it: sealed when binary, plain text otherwise."""
    column = REQUEST_TABLE.c[field]
    if text is None or column.type.python_type is not bytes:
        return text
    return VAULT.seal(REQUEST_TABLE.name, request_id, field, text)


def request_row(
    *,
    request_id: uuid.UUID,
    reference: str,
    status: Status,
    priority: Priority,
    specialty: str,
    subspecialty: str | None,
    requester_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
    submitted_at: datetime,
    sla: SlaPolicy,
    patient: int = 0,
) -> dict[str, Any]:
    """One request row in ``status``, as the service leaves it after that life."""
    identity, key = PATIENTS[patient]
    extra = {"patient_key": key} if "patient_key" in REQUEST_TABLE.c else {}
    r = SimpleNamespace(
        **model_row(
            Request,
            id=request_id,
            reference=reference,
            status=Status.PENDING,
            priority=priority,
            specialty_code=specialty,
            subspecialty_code=subspecialty,
            requester_id=requester_id,
            question=clinical(request_id, "question", QUESTION),
            patient=clinical(request_id, "patient", identity),
            consent=True,
            submitted_at=submitted_at,
            version=1,
            **extra,
        )
    )
    start_answer_clock(r, submitted_at, sla)  # type: ignore[arg-type]
    at = submitted_at
    reached = LIFE.index(status) if status != Status.CANCELLED else 0
    if reached >= LIFE.index(Status.ASSIGNED) or (
        status == Status.CANCELLED and assignee_id is not None
    ):
        if assignee_id is None:
            raise ValueError(f"a request {status} needs an assignee")
        at += ASSIGN_AFTER
        r.assignee_id, r.assigned_at, r.status = assignee_id, at, Status.ASSIGNED
        start_acknowledge_clock(r, at, sla)  # type: ignore[arg-type]
        r.version += 1
    if reached >= LIFE.index(Status.ACCEPTED):
        at += ACCEPT_AFTER
        r.accepted_at, r.status = at, Status.ACCEPTED
        r.version += 1
    if status == Status.AWAITING_INFO:
        at += ASK_INFO_AFTER
        r.status = Status.AWAITING_INFO
        pause_answer_clock(r, at, sla)  # type: ignore[arg-type]
        r.version += 1
    if reached >= LIFE.index(Status.ANSWERED):
        at += ANSWER_AFTER
        r.answer = clinical(request_id, "answer", ANSWER)
        r.outcome, r.answered_at = "advice", at
        r.status, r.answer_paused_seconds = Status.ANSWERED, None
        r.version += 1
    if status == Status.CLOSED:
        at += CLOSE_AFTER
        r.closed_at, r.usefulness, r.referral_avoided = at, 4, True
        r.status = Status.CLOSED
        r.version += 1
    if status == Status.CANCELLED:
        at += ACCEPT_AFTER
        r.cancelled_at, r.status = at, Status.CANCELLED
        r.version += 1
    refresh(r)  # type: ignore[arg-type]
    return {name: getattr(r, name) for name in COLUMNS}


def user_row(
    *,
    user_id: uuid.UUID,
    role: Role,
    email: str,
    name: str,
    created_at: datetime,
    **values: Any,
) -> dict[str, Any]:
    """A user row; other columns from ``values`` or the model's defaults."""
    return model_row(
        User,
        id=user_id,
        role=role,
        email=email,
        name=name,
        treating_physician=role == Role.REQUESTER,
        created_at=created_at,
        **values,
    )


def chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def insert_rows(
    connection: AsyncConnection, table: Any, rows: Sequence[dict[str, Any]]
) -> None:
    """A Core executemany (SQLAlchemy batches it; types converted as the service's would be)."""
    if rows:
        await connection.execute(insert(table), list(rows))


async def copy_requests(connection: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY`` of request rows (binary protocol, native types)."""
    await connection.copy_records_to_table(
        "request",
        records=[tuple(row[name] for name in COLUMNS) for row in rows],
        columns=list(COLUMNS),
    )
