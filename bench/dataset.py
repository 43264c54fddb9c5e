"""The benchmarks' data: rows consistent with what the service itself writes, and their loading.

A request row is built by replaying its life (submission, assignment, acceptance,
request for information, answer, closure or cancellation) through the service's own
deadline functions (``sla.deadlines``) on a plain namespace, so every deadline, level,
``sla_state`` and ``sla_next_at`` is the value the service would have stored. Clinical
text goes into its column as the column asks: sealed by ``security.vault.Vault`` (bound
to its row and field, under a key ring generated for the run) when the column is binary,
plain otherwise; ``patient_key`` is the vault's pseudonym of the patient. Rows are plain
dicts keyed by column name; ``bulk_load`` writes them, ``seed_in_process`` loads the small
ESS the in-process submission benchmarks share.
"""

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from itertools import islice
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import JSON, create_engine, event, insert

from bench.harness import NOW, REQUESTER_EMAIL, SPECIALTY, SUBSPECIALTY
from models import (
    PatientIdentity,
    Priority,
    Request,
    Role,
    Specialty,
    Status,
    Subspecialty,
    User,
    UserSubspecialty,
)
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
CHUNK = 20_000  # rows per executemany or COPY

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


def pick(rng: Any, mix: Sequence[tuple[Any, float]]) -> Any:
    """A value of ``mix`` ((value, share), ...) drawn with ``rng`` (``random.Random``)."""
    draw = rng.random()
    for value, share in mix:
        draw -= share
        if draw < 0:
            return value
    return mix[-1][0]


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
    return VAULT.encrypt(REQUEST_TABLE.name, request_id, field, text)


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


def specialty_rows(code: str, name: str, subspecialties: Sequence[str]) -> list[Any]:
    """(table, rows) of one specialty and its sub-specialties (named after their codes)."""
    subs = [
        model_row(Subspecialty, specialty_code=code, code=sub, name=sub.title())
        for sub in subspecialties
    ]
    return [(Specialty.__table__, [model_row(Specialty, code=code, name=name)]),
            (Subspecialty.__table__, subs)]  # fmt: skip


def chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def bulk_load(url: str, tables: Iterable[tuple[Any, Iterable[dict[str, Any]]]]) -> int:
    """Rows into their tables, in order and in one transaction, by chunks; the rows loaded.

    SQLite: SQLAlchemy Core's executemany through the synchronous driver (the same type
    processing as aiosqlite, without its thread); PostgreSQL: ``COPY`` (binary, native
    types). Rows may be generated lazily, chunk by chunk.
    """
    loaded = 0
    if url.startswith("sqlite"):
        engine = create_engine(url.replace("+aiosqlite", ""))
        event.listen(engine, "connect", _large_cache)
        try:
            with engine.begin() as connection:
                for table, rows in tables:
                    for chunk in chunks(rows, CHUNK):
                        connection.execute(insert(table), chunk)
                        loaded += len(chunk)
        finally:
            engine.dispose()
        return loaded
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        async with connection.transaction():
            for table, rows in tables:
                # COPY takes JSON as text (SQLAlchemy's JSON type encodes it for executemany).
                encoded = {c.name for c in table.columns if isinstance(c.type, JSON)}
                for chunk in chunks(rows, CHUNK):
                    names = list(chunk[0])
                    records = [
                        tuple(json.dumps(row[n]) if n in encoded else row[n] for n in names)
                        for row in chunk
                    ]
                    await connection.copy_records_to_table(
                        table.name, records=records, columns=names
                    )
                    loaded += len(chunk)
    finally:
        await connection.close()
    return loaded


def _large_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA cache_size=-262144")  # 256 MiB, for the load only


async def seed_in_process(url: str, specialists: int, capacity: int) -> uuid.UUID:
    """One specialty and sub-specialty, ``specialists`` covering it, one requester (its id),
    loaded in bulk."""
    created = NOW - timedelta(days=30)
    requester_id = uuid.uuid4()
    users = [
        user_row(
            user_id=requester_id,
            role=Role.REQUESTER,
            email=REQUESTER_EMAIL,
            name="Dr Demandeur",
            created_at=created,
        )
    ]
    ids = [uuid.uuid4() for _ in range(specialists)]
    users += [
        user_row(
            user_id=specialist_id,
            role=Role.SPECIALIST,
            email=f"specialiste{index}@ess-bench.fr",
            name=f"Dr Spécialiste {index}",
            created_at=created,
            specialty_code=SPECIALTY,
            capacity=capacity,
            rotation=index,
        )
        for index, specialist_id in enumerate(ids)
    ]
    links = [
        model_row(
            UserSubspecialty, user_id=i, specialty_code=SPECIALTY, subspecialty_code=SUBSPECIALTY
        )
        for i in ids
    ]
    tables = specialty_rows(SPECIALTY, "Cardiologie", [SUBSPECIALTY])
    await bulk_load(url, [*tables, (USER_TABLE, users), (UserSubspecialty.__table__, links)])
    return requester_id
