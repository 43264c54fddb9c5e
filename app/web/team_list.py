"""The accounts' list on ``/coordination/equipe``: one role at a time (specialists first),
searched by name or e-mail, fifty a page. An ESS has a few dozen specialists but may serve
hundreds of requesters: the page never lists every account at once.
"""

import math
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import users as user_service
from models import Role, UserRead

PAGE_SIZE = 50
MAX_PAGE = 100_000
ROLE_TABS = {
    Role.SPECIALIST: "Spécialistes",
    Role.REQUESTER: "Demandeurs",
    Role.COORDINATOR: "Coordination",
}

# « Rechercher parmi les … », « Voir tous les … »
ROLE_WORDS = {
    Role.SPECIALIST: "spécialistes",
    Role.REQUESTER: "demandeurs",
    Role.COORDINATOR: "comptes de coordination",
}

RoleShown = Annotated[Role, QueryParameter(name="role")]
SearchText = Annotated[str, QueryParameter(name="q", max_length=200)]
PageShown = Annotated[int, QueryParameter(name="page", ge=1, le=MAX_PAGE)]


@dataclass(frozen=True)
class Listing:
    """Which accounts the page shows."""

    role: Role = Role.SPECIALIST
    text: str = ""
    page: int = 1

    def link(self, **changes: Any) -> str:
        """The team page's address for this listing, with ``changes`` (role, text, page)."""
        role = changes.get("role", self.role)
        text = changes.get("text", self.text)
        number = changes.get("page", self.page)
        query: dict[str, str | int] = {"role": str(role)}
        if text:
            query["q"] = text
        if number > 1:
            query["page"] = number
        return f"/coordination/equipe?{urlencode(query)}#comptes"


async def accounts_context(session: AsyncSession, listing: Listing) -> dict[str, Any]:
    """One page of the listing's accounts, with their load, and the count of each role."""
    found, total = await user_service.find_users(
        session,
        listing.role,
        listing.text.strip(),
        offset=(listing.page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    reads: list[UserRead] = await user_service.to_read(session, found)
    return {
        "listing": listing,
        "accounts": reads,
        "accounts_total": total,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "role_counts": await user_service.count_by_role(session),
        "role_tabs": ROLE_TABS,
        "role_words": ROLE_WORDS,
        "load": {user.id: user.open_count for user in found},
    }
