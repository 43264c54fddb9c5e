"""The specialist's queue (``/`` and ``/demandes``), live: an idle poll is one query.

The page polls ``/demandes/file`` with the digest of what it shows; the answer is
204 (nothing new) or the queue again, which htmx swaps in, with the page title
counting the requests waiting for acceptance. Without JavaScript: reload the page.
"""

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.dependencies import CurrentUser, DbSession, Now
from app.services import people as people_service
from app.services import workspace
from app.services.specialties import list_specialties
from app.services.workspace import Tab
from app.web import display
from app.web.session import NO_RENEW
from app.web.templating import page
from config import Settings
from models import Role, User

TAB_LABELS = {
    Tab.OPEN: "Toutes en cours",
    Tab.TO_ACCEPT: "À accepter",
    Tab.ACCEPTED: "Acceptées",
    Tab.AWAITING_INFO: "En attente d'informations",
    Tab.ANSWERED: "Répondues",
}


def read_tab(value: str | None) -> Tab:
    try:
        return Tab(value or Tab.OPEN)
    except ValueError:
        return Tab.OPEN


async def queue_context(
    session: AsyncSession,
    viewer: User,
    now: datetime,
    tab: Tab,
    search: str | None,
    page_number: int,
    settings: Settings,
) -> dict[str, Any]:
    """What the queue shows, and the digest the poll compares with."""
    digest = await workspace.fingerprint(session, viewer)
    items, total = await workspace.queue(session, viewer, tab, search=search, page=page_number)
    people = await _people(session, items)
    names = display.specialty_names(await list_specialties(session))
    return {
        "section": "requests",
        "tab": tab,
        "tabs": TAB_LABELS,
        "items": items,
        "total": total,
        "people": people,
        "names": names,
        "now": now,
        "search": search or "",
        "page_number": page_number,
        "pages": max(1, -(-total // workspace.HISTORY_PAGE)),
        "waiting": await workspace.waiting_count(session, viewer),
        "digest": digest,
        "poll_seconds": max(1, int(settings.queue_poll.total_seconds())),
        "age": lambda at: display.duration(now - at),
    }


async def _people(session: AsyncSession, items: list[workspace.QueueItem]) -> dict[Any, Any]:
    loaded = await people_service.load(session, [i.request.requester_id for i in items])
    return loaded.by_id


async def queue_page(
    request: Request[Any, Any, Any], session: AsyncSession, viewer: User, now: datetime
) -> Template:
    settings: Settings = request.app.state.context.settings
    """The queue as a whole page (the tab and search come from the address)."""
    query = request.query_params
    try:
        page_number = max(1, min(int(query.get("page") or 1), 100_000))
    except ValueError:
        page_number = 1
    tab = read_tab(query.get("onglet"))
    search = (query.get("reference") or "")[:30]
    context = await queue_context(session, viewer, now, tab, search, page_number, settings)
    return page(request, "specialist/queue.html", **context)


Text = Annotated[str | None, QueryParameter(required=False, max_length=100)]


class QueuePollController(Controller):
    path = "/demandes/file"
    guards = [requires(Role.SPECIALIST)]

    # Polling must not keep an idle session alive: the cookie is not renewed here.
    @get("/", name="web_queue_poll", opt={NO_RENEW: True})
    async def poll(
        self,
        request: Request[Any, Any, Any],
        read_session: DbSession,
        now: Now,
        current_user: CurrentUser,
        settings: NamedDependency[Settings],
        empreinte: Text = None,
        onglet: Text = None,
        reference: Text = None,
    ) -> Response[Any] | Template:
        """204 when the queue is as the page shows it; else the queue to swap in."""
        if empreinte and empreinte == await workspace.fingerprint(read_session, current_user):
            return Response(None, status_code=204)
        context = await queue_context(
            read_session, current_user, now, read_tab(onglet), reference, 1, settings
        )
        return page(request, "specialist/_queue_live.html", **context)
