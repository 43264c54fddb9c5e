"""The roster in bulk: specialists created or updated from a CSV file, all lines or none."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.accounts import invite
from app.services.roster_file import (
    COLUMNS,
    SUBSPECIALTY_SEPARATOR,
    column_error,
    read_rows,
)
from app.services.users import create_user, update_user
from config import Settings
from models import Role, Specialty, Subspecialty, User, UserCreate, UserSubspecialty, UserUpdate
from models.identifiers import check_email_scripts
from router import DispatchPolicy

_YES = {"oui", "o", "true", "vrai", "1", "yes", "x"}
_NO = {"non", "n", "false", "faux", "0", "no", ""}

Action = Literal["create", "update", "unchanged"]


@dataclass
class RosterLine:
    """What one line of the file does: its CSV line number, the account, the fields that
    change, and for a new account what it will be (``account``)."""

    line: int
    email: str
    action: Action
    changes: list[str] = field(default_factory=list)
    account: UserCreate | None = None


@dataclass
class RosterError:
    """Every reason a line is refused."""

    line: int
    reasons: list[str]

    @property
    def reason(self) -> str:
        return " ; ".join(self.reasons)


@dataclass
class RosterReport:
    """What an import would do (or did): each line's action, or each bad line's reasons."""

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


def _parse_row(line: int, cells: dict[str, str], errors: dict[str, str]) -> _Row | None:
    """The line as an account to create, or None; each column's error goes in ``errors``."""

    def cell(name: str) -> str:
        return cells.get(name, "")

    capacity: int | None = None
    if cell("capacity"):
        try:
            capacity = int(cell("capacity"))
        except ValueError:
            errors["capacity"] = "nombre entier attendu"
    dates: dict[str, date | None] = {}
    for column in ("membership_start", "membership_end"):
        try:
            dates[column] = date.fromisoformat(cell(column)) if cell(column) else None
        except ValueError:
            dates[column] = None
            errors[column] = "date attendue au format AAAA-MM-JJ"
    flag = cell("advanced_consultations").lower()
    if flag not in _YES | _NO:
        errors["advanced_consultations"] = "oui ou non attendu"
    start, end = dates["membership_start"], dates["membership_end"]
    if start and end and end < start:
        errors["membership_end"] = "la fin d'adhésion précède son début"
    subspecialties = _codes(cells)
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
            member_since=start,
            member_until=end,
        )
    except ValidationError as exc:
        for column, message in _reasons(exc).items():
            errors.setdefault(column, message)
        return None
    try:
        check_email_scripts(data.email)
    except ValueError as exc:
        errors["email"] = str(exc)
        return None
    return _Row(
        line=line,
        data=data,
        capacity_given=capacity is not None,
        start_given=data.member_since is not None,
    )


def _codes(cells: dict[str, str]) -> list[str]:
    """The sub-specialty codes of the line."""
    return [
        code.strip()
        for code in cells.get("subspecialties", "").split(SUBSPECIALTY_SEPARATOR)
        if code.strip()
    ]


_COLUMN_OF = {"member_since": "membership_start", "member_until": "membership_end"}
_MESSAGES = {
    "email": "adresse e-mail invalide",
    "name": "nom obligatoire, sur une ligne, 200 caractères au plus",
    "capacity": "nombre entier de 0 à 1000 attendu",
}


def _reasons(exc: ValidationError) -> dict[str, str]:
    """Each refused column's message (the first for a column refused twice)."""
    reasons: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "email"
        column = _COLUMN_OF.get(name, name)
        message = _MESSAGES.get(column) or str(error["msg"]).removeprefix("Value error, ")
        reasons.setdefault(column, message)
    return reasons


async def plan_import(
    session: AsyncSession,
    content: bytes,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RosterReport, list[_Row]]:
    """Validate every line against the file and the database; say what each would change.

    Every error of a line is reported, not only the first.
    """
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
        errors: dict[str, str] = {}
        row = _parse_row(line, cells, errors)
        specialty = row.data.specialty if row else cells.get("specialty", "")
        if "specialty" not in errors:
            if not specialty:
                errors["specialty"] = "code de spécialité obligatoire"
            elif specialty not in specialties:
                errors["specialty"] = f"spécialité inconnue « {specialty} »"
            elif "subspecialties" not in errors:
                wanted = row.data.subspecialties if row else _codes(cells)
                unknown = [c for c in wanted if c not in known_subs.get(specialty, ())]
                if unknown:
                    errors["subspecialties"] = (
                        f"sur-spécialité inconnue pour « {specialty} » : {', '.join(unknown)}"
                    )
        if row is not None:
            data = row.data
            if data.email in seen_emails:
                errors["email"] = f"déjà à la ligne {seen_emails[data.email]}"
            else:
                seen_emails[data.email] = line
            if data.rpps:
                if data.rpps in seen_rpps:
                    errors["rpps"] = f"déjà à la ligne {seen_rpps[data.rpps]}"
                else:
                    seen_rpps[data.rpps] = line
            if data.specialty in specialties and "subspecialties" not in errors:
                retired = (
                    set(known_subs.get(data.specialty, ()))
                    if specialties[data.specialty]
                    else retired_subs.get(data.specialty, set())
                )
                planned = await _diff(
                    session,
                    row,
                    errors,
                    specialty_retired=specialties[data.specialty],
                    retired_subs=retired,
                )
                if not errors:
                    report.lines.append(planned)
                    parsed.append(row)
        if errors:
            report.errors.append(
                RosterError(
                    line=line,
                    reasons=[
                        column_error(column, errors[column])
                        for column in sorted(errors, key=_column_order)
                    ],
                )
            )
    return report, parsed


def _column_order(column: str) -> int:
    return COLUMNS.index(column) if column in COLUMNS else len(COLUMNS)


async def _diff(
    session: AsyncSession,
    row: _Row,
    errors: dict[str, str],
    *,
    specialty_retired: bool,
    retired_subs: set[str],
) -> RosterLine:
    """What the line changes; a retired specialty or sub-specialty is given to nobody new.

    What the accounts refuse goes in ``errors`` (by column).
    """
    data = row.data
    if data.rpps and "rpps" not in errors:
        holder = (
            await session.execute(select(User.email).where(User.rpps == data.rpps))
        ).scalar_one_or_none()
        if holder is not None and holder != data.email:
            errors["rpps"] = f"déjà utilisé par le compte {holder}"
    user = (
        await session.execute(select(User).where(User.email == data.email))
    ).scalar_one_or_none()
    if user is None:
        if specialty_retired:
            errors["specialty"] = f"spécialité retirée « {data.specialty} »"
        _refuse_retired(data.subspecialties, set(), retired_subs, errors)
        return RosterLine(line=row.line, email=data.email, action="create", account=data)
    if user.role != Role.SPECIALIST:
        errors.setdefault("email", f"le compte {data.email} n'est pas celui d'un spécialiste")
        return RosterLine(line=row.line, email=data.email, action="unchanged")
    if user.specialty_code != data.specialty:
        errors["specialty"] = (
            f"le compte est en « {user.specialty_code} » ; l'import ne change pas "
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
    _refuse_retired(data.subspecialties, current_subs, retired_subs, errors)
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


def _refuse_retired(
    wanted: list[str], held: set[str], retired: set[str], errors: dict[str, str]
) -> None:
    newly = [code for code in wanted if code in retired and code not in held]
    if newly:
        errors.setdefault(
            "subspecialties",
            f"sur-spécialité retirée, elle ne peut plus être attribuée : {', '.join(newly)}",
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
