"""The roster in bulk for the coordinator: upload a CSV, see what would change, confirm."""

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import MultipartBody, QueryParameter
from sqlmodel import Field, SQLModel

from app.auth import requires
from app.dependencies import DbSession, Now, Policy
from app.errors import problem
from app.services.roster import RosterReport, import_roster
from config import Settings
from models import Role


@dataclass
class RosterUpload:
    file: UploadFile


class RosterLineRead(SQLModel):
    line: int
    email: str
    action: str
    changes: list[str]


class RosterErrorRead(SQLModel):
    line: int
    reason: str = Field(description="every reason the line is refused, separated by « ; »")
    reasons: list[str] = Field(description="each reason the line is refused, one by column")


class RosterReportRead(SQLModel):
    applied: bool
    created: int
    updated: int
    unchanged: int
    lines: list[RosterLineRead]
    errors: list[RosterErrorRead]


class RosterController(Controller):
    path = "/roster"
    tags = ["comptes"]
    guards = [requires(Role.COORDINATOR)]

    @post("/import", status_code=200, name="import_roster")
    async def import_roster(
        self,
        data: MultipartBody[RosterUpload],
        session: DbSession,
        now: Now,
        policy: Policy,
        settings: NamedDependency[Settings],
        confirm: Annotated[bool, QueryParameter(name="confirm", required=False)] = False,
    ) -> RosterReportRead:
        """Check a roster CSV and report each line; with ``confirm=true``, apply it."""
        upload = data.file
        try:
            content = await upload.read()
        finally:
            await upload.close()
        # A dry run writes nothing, so its transaction commits nothing.
        report = await import_roster(
            session,
            content,
            apply=confirm,
            now=now,
            policy=policy,
            settings=settings,
        )
        if confirm and report.errors:
            raise problem(
                422,
                f"{len(report.errors)} ligne(s) invalide(s) : rien n'a été importé.",
                errors=[
                    {"field": "file", "source": "body", "message": f"ligne {e.line} : {reason}"}
                    for e in report.errors
                    for reason in e.reasons
                ],
            )
        return _read(report)


def _read(report: RosterReport) -> RosterReportRead:
    return RosterReportRead(
        applied=report.applied,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        lines=[
            RosterLineRead(
                line=line.line, email=line.email, action=line.action, changes=line.changes
            )
            for line in report.lines
        ],
        errors=[
            RosterErrorRead(line=error.line, reason=error.reason, reasons=error.reasons)
            for error in report.errors
        ],
    )
