"""The roster in bulk: specialists created or updated from a CSV file, all lines or none."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.accounts import invite
from app.services.users import create_user, update_user
from config import Settings
from models import Role, Specialty, Subspecialty, User, UserCreate, UserSubspecialty, UserUpdate
from models.errors import InvalidInputError
from models.identifiers import check_email_scripts
from router import DispatchPolicy

COLUMNS = (
    "email",
    "name",
    "rpps",
    "specialty",
    "subspecialties",
    "capacity",
    "membership_start",
    "membership_end",
    "advanced_consultations",
)
REQUIRED = ("email", "name", "specialty")
SUBSPECIALTY_SEPARATOR = "|"
MAX_LINES = 5000
_YES = {"oui", "o", "true", "vrai", "1", "yes", "x"}
_NO = {"non", "n", "false", "faux", "0", "no", ""}

Action = Literal["create", "update", "unchanged"]


@dataclass
class RosterLine:
    """What one line of the file does: its CSV line number, the account, the fields that change."""

    line: int
    email: str
    action: Action
    changes: list[str] = field(default_factory=list)


@dataclass
class RosterError:
    line: int
    reason: str


@dataclass
class RosterReport:
    """What an import would do (or did): each line's action, or each bad line's reason."""

    lines: list[RosterLine] = field(default_factory=list)
    errors: list[RosterError] = field(default_factory=list)
    applied: bool = False

    @property
    def created(self) -> int:
        return sum(1 for line in self.lines if line.action == "create")

    @property
    def updated(self) -> int:
        return sum(1 for line in self.lines if line.action == "update")

    @property
    def unchanged(self) -> int:
        return sum(1 for line in self.lines if line.action == "unchanged")


@dataclass
class _Row:
    line: int
    data: UserCreate
    capacity_given: bool
    start_given: bool


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """Decode the file and return (line number, cells) per data line, or raise in French."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("Le fichier doit être encodé en UTF-8.", field="file") from None
    header = text.split("\n", 1)[0]
    # Spreadsheets set to French write « ; » between cells; others write « , ».
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidInputError(
            f"Colonnes obligatoires absentes de la première ligne : {', '.join(missing)}.",
            field="file",
        )
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidInputError(f"Colonnes inconnues : {', '.join(unknown)}.", field="file")
    reader.fieldnames = names
    rows = []
    try:
        for cells in reader:
            if None in cells:
                raise InvalidInputError(
                    f"Ligne {reader.line_num} : plus de cellules que de colonnes.", field="file"
                )
            values = {k: (v or "").strip() for k, v in cells.items()}
            if any(values.values()):
                rows.append((reader.line_num, values))
            if len(rows) > MAX_LINES:
                raise InvalidInputError(f"Le fichier dépasse {MAX_LINES} lignes.", field="file")
    except csv.Error as exc:
        raise InvalidInputError(
            f"Ligne {reader.line_num} : fichier CSV illisible ({exc}).", field="file"
        ) from None
    return rows


def _parse_row(line: int, cells: dict[str, str]) -> _Row:
    def cell(name: str) -> str:
        return cells.get(name, "")

    capacity: int | None = None
    if cell("capacity"):
        try:
            capacity = int(cell("capacity"))
        except ValueError:
            raise ValueError("capacity : nombre entier attendu") from None
    dates: dict[str, date | None] = {}
    for column in ("membership_start", "membership_end"):
        try:
            dates[column] = date.fromisoformat(cell(column)) if cell(column) else None
        except ValueError:
            raise ValueError(f"{column} : date attendue au format AAAA-MM-JJ") from None
    flag = cell("advanced_consultations").lower()
    if flag not in _YES | _NO:
        raise ValueError("advanced_consultations : oui ou non attendu")
    subspecialties = [
        code.strip()
        for code in cell("subspecialties").split(SUBSPECIALTY_SEPARATOR)
        if code.strip()
    ]
    try:
        data = UserCreate(
            role=Role.SPECIALIST,
            email=cell("email"),
            name=cell("name"),
            rpps=cell("rpps") or None,
            specialty=cell("specialty"),
            subspecialties=subspecialties,
            capacity=capacity,
            advanced_consultations=flag in _YES,
            member_since=dates["membership_start"],
            member_until=dates["membership_end"],
        )
    except ValidationError as exc:
        raise ValueError(_reason(exc)) from None
    try:
        check_email_scripts(data.email)
    except ValueError as exc:
        raise ValueError(f"email : {exc}") from None
    if data.member_since and data.member_until and data.member_until < data.member_since:
        raise ValueError("membership_end : la fin d'adhésion précède son début")
    return _Row(
        line=line,
        data=data,
        capacity_given=capacity is not None,
        start_given=data.member_since is not None,
    )


_COLUMN_OF = {"member_since": "membership_start", "member_until": "membership_end"}


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "ligne"
    column = _COLUMN_OF.get(name, name)
    if column == "email":
        return "email : adresse e-mail invalide"
    if column == "name":
        return "name : nom obligatoire, sur une ligne, 200 caractères au plus"
    if column == "capacity":
        return "capacity : nombre entier de 0 à 1000 attendu"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{column} : {message}"


async def plan_import(
    session: AsyncSession,
    content: bytes,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RosterReport, list[_Row]]:
    """Validate every line against the file and the database; say what each would change."""
    report = RosterReport()
    parsed: list[_Row] = []
    raw = read_rows(content)
    known_subs: dict[str, set[str]] = {}
    retired_subs: dict[str, set[str]] = {}
    for specialty_code, code, retired_at in await session.execute(
        select(Subspecialty.specialty_code, Subspecialty.code, Subspecialty.retired_at)
    ):
        known_subs.setdefault(specialty_code, set()).add(code)
        if retired_at is not None:
            retired_subs.setdefault(specialty_code, set()).add(code)
    specialties: dict[str, bool] = {
        code: retired_at is not None
        for code, retired_at in await session.execute(select(Specialty.code, Specialty.retired_at))
    }
    seen_emails: dict[str, int] = {}
    seen_rpps: dict[str, int] = {}
    for index, (line, cells) in enumerate(raw, start=1):
        if progress:
            progress(index, len(raw))
        try:
            row = _parse_row(line, cells)
            data = row.data
            if data.specialty not in specialties:
                raise ValueError(f"specialty : spécialité inconnue « {data.specialty} »")
            unknown = [
                c for c in data.subspecialties if c not in known_subs.get(data.specialty, ())
            ]
            if unknown:
                raise ValueError(
                    f"subspecialties : sur-spécialité inconnue pour « {data.specialty} » : "
                    f"{', '.join(unknown)}"
                )
            if data.email in seen_emails:
                raise ValueError(f"email : déjà à la ligne {seen_emails[data.email]}")
            seen_emails[data.email] = line
            if data.rpps:
                if data.rpps in seen_rpps:
                    raise ValueError(f"rpps : déjà à la ligne {seen_rpps[data.rpps]}")
                seen_rpps[data.rpps] = line
            retired = (
                set(known_subs.get(data.specialty, ()))
                if specialties[data.specialty]
                else retired_subs.get(data.specialty, set())
            )
            report.lines.append(
                await _diff(
                    session,
                    row,
                    specialty_retired=specialties[data.specialty],
                    retired_subs=retired,
                )
            )
            parsed.append(row)
        except ValueError as exc:
            report.errors.append(RosterError(line=line, reason=str(exc)))
    return report, parsed


async def _diff(
    session: AsyncSession, row: _Row, *, specialty_retired: bool, retired_subs: set[str]
) -> RosterLine:
    """What the line changes; a retired specialty or sub-specialty is given to nobody new."""
    data = row.data
    if data.rpps:
        holder = (
            await session.execute(select(User.email).where(User.rpps == data.rpps))
        ).scalar_one_or_none()
        if holder is not None and holder != data.email:
            raise ValueError(f"rpps : déjà utilisé par le compte {holder}")
    user = (
        await session.execute(select(User).where(User.email == data.email))
    ).scalar_one_or_none()
    if user is None:
        if specialty_retired:
            raise ValueError(f"specialty : spécialité retirée « {data.specialty} »")
        _refuse_retired(data.subspecialties, set(), retired_subs)
        return RosterLine(line=row.line, email=data.email, action="create")
    if user.role != Role.SPECIALIST:
        raise ValueError(f"email : le compte {data.email} n'est pas celui d'un spécialiste")
    if user.specialty_code != data.specialty:
        raise ValueError(
            f"specialty : le compte est en « {user.specialty_code} » ; l'import ne change pas "
            "la spécialité d'un compte"
        )
    current_subs = set(
        (
            await session.execute(
                select(UserSubspecialty.subspecialty_code).where(
                    UserSubspecialty.user_id == user.id
                )
            )
        ).scalars()
    )
    _refuse_retired(data.subspecialties, current_subs, retired_subs)
    changes = []
    if user.name != data.name.strip():
        changes.append("name")
    if data.rpps and user.rpps != data.rpps:
        changes.append("rpps")
    if current_subs != set(data.subspecialties):
        changes.append("subspecialties")
    if row.capacity_given and user.capacity != data.capacity:
        changes.append("capacity")
    if row.start_given and user.member_since != data.member_since:
        changes.append("membership_start")
    if user.member_until != data.member_until:
        changes.append("membership_end")
    if user.advanced_consultations != data.advanced_consultations:
        changes.append("advanced_consultations")
    return RosterLine(
        line=row.line,
        email=data.email,
        action="update" if changes else "unchanged",
        changes=changes,
    )


def _refuse_retired(wanted: list[str], held: set[str], retired: set[str]) -> None:
    newly = [code for code in wanted if code in retired and code not in held]
    if newly:
        raise ValueError(
            f"subspecialties : sur-spécialité retirée, elle ne peut plus être attribuée : "
            f"{', '.join(newly)}"
        )


async def import_roster(
    session: AsyncSession,
    content: bytes,
    *,
    apply: bool,
    now: datetime,
    policy: DispatchPolicy,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
) -> RosterReport:
    """Plan the import; with ``apply`` and no bad line, make it in the caller's transaction."""
    report, rows = await plan_import(session, content, progress=progress)
    if not apply or report.errors:
        return report
    by_line = {row.line: row for row in rows}
    for planned in report.lines:
        row = by_line[planned.line]
        if planned.action == "create":
            user = await create_user(
                session,
                row.data,
                now=now,
                default_capacity=settings.default_capacity,
                policy=policy,
            )
            await welcome(session, user, now=now, settings=settings)
        elif planned.action == "update":
            await _update(session, row, now=now, policy=policy)
    report.applied = True
    return report


async def _update(
    session: AsyncSession, row: _Row, *, now: datetime, policy: DispatchPolicy
) -> None:
    data = row.data
    user = (await session.execute(select(User).where(User.email == data.email))).scalar_one()
    user.name = data.name.strip()
    if data.rpps:
        user.rpps = data.rpps
    changes: dict[str, object] = {
        "subspecialties": data.subspecialties,
        "advanced_consultations": data.advanced_consultations,
        "member_until": data.member_until,
    }
    if row.capacity_given:
        changes["capacity"] = data.capacity
    if row.start_given:
        changes["member_since"] = data.member_since
    await update_user(session, user, UserUpdate(**changes), now=now, policy=policy)


async def welcome(session: AsyncSession, user: User, *, now: datetime, settings: Settings) -> None:
    """Greet an account the import created: e-mail its invitation to choose a password."""
    await invite(session, user, now=now, settings=settings)
