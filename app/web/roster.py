"""``/coordination/equipe/tableau``: the roster CSV import on the team page (upload, what
would change line by line, confirm), the guide's template to download.

A file the service cannot read at all (none chosen, neither UTF-8 nor Windows-1252, columns
missing) brings the team page back with the message beside the file field; a file read
with bad lines shows every error of each line, and nothing is imported.
"""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services import roster_file
from app.services.roster import RosterReport, import_roster
from app.services.roster_file import COLUMN_LABELS
from app.services.specialties import in_service, list_specialties
from app.web.display import specialty_names
from app.web.forms import FormRejected, files
from app.web.team import team_context
from app.web.templating import flash_cookie, page
from config import Settings
from models import Role
from models.errors import InvalidInputError

# The roster form's file field (errors keyed apart from the other forms' on the team page).
ROSTER_FILE = "roster-file"


class RosterPageController(Controller):
    path = "/coordination/equipe/tableau"
    guards = [requires(Role.COORDINATOR)]

    @get("/modele.csv", name="web_roster_template")
    async def roster_template(self, read_session: NamedDependency[AsyncSession]) -> Response[bytes]:
        """A roster file to fill in: the columns and one example line (this ESS's codes)."""
        specialties = in_service(await list_specialties(read_session))
        example = {}
        if specialties:
            first = specialties[0]
            subs = [sub.code for sub in first.subspecialties if not sub.retired][:2]
            example = {"specialty": first.code, "subspecialties": subs}
        return Response(
            content=roster_file.template(**example),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="tableau-specialistes.csv"'},
        )

    @staticmethod
    async def _roster_rejected(context: AppContext, exc: InvalidInputError) -> FormRejected:
        """The team page again, the file's problem beside the file field."""
        async with context.db.reading() as read_session:
            shown = await team_context(read_session)
        return FormRejected("coordination/team.html", shown, {}, {ROSTER_FILE: str(exc)}, 422)

    @staticmethod
    async def _roster_page(
        request: Request[Any, Any, Any],
        session: AsyncSession,
        report: RosterReport,
        text: str,
        settings: Settings,
    ) -> Template:
        catalogue = await list_specialties(session)
        return page(
            request,
            "coordination/roster.html",
            section="coordination",
            tab="team",
            report=report,
            content=text,
            names=specialty_names(catalogue),
            column_names=COLUMN_LABELS,
            default_capacity=settings.default_capacity,
            status_code=200 if not report.errors else 422,
        )

    @post("/", name="web_roster_preview")
    async def roster_preview(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Template:
        """What the roster file would change, line by line (nothing is written yet)."""
        form = await request.form()
        chosen = files(form)
        if chosen:
            try:
                content = await chosen[0].read()
            finally:
                for upload in chosen:
                    await upload.close()
        else:
            content = str(form.get("content") or "").encode()
        try:
            if not content:
                raise InvalidInputError(
                    "Choisissez le fichier CSV du tableau des spécialistes.", field="file"
                )
            text = roster_file.decode(content)
            report = await import_roster(
                session, content, apply=False, now=now, policy=policy, settings=settings
            )
        except InvalidInputError as exc:
            raise await self._roster_rejected(context, exc) from exc
        return await self._roster_page(request, session, report, text, settings)

    @post("/confirmation", name="web_roster_apply")
    async def roster_apply(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
        now: NamedDependency[Any],
        policy: NamedDependency[Any],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        """Import the roster checked on the previous page (all lines, or none)."""
        text = str((await request.form()).get("content") or "")
        try:
            report = await import_roster(
                session, text.encode(), apply=True, now=now, policy=policy, settings=settings
            )
        except InvalidInputError as exc:
            raise await self._roster_rejected(context, exc) from exc
        if report.errors:
            # Nothing was written: the page says which lines to correct.
            return await self._roster_page(request, session, report, text, settings)
        return Redirect(
            "/coordination/equipe#comptes",
            status_code=303,
            cookies=[flash_cookie("roster_imported")],
        )
