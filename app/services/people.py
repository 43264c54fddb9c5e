"""The people a request names, loaded together: one query for a whole page of requests."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    FORMER_SPECIALIST,
    AssigneeSummary,
    PersonRef,
    Request,
    RequesterSummary,
    Role,
    User,
    UserSubspecialty,
)


@dataclass
class Person:
    id: uuid.UUID
    name: str
    role: Role
    rpps: str | None
    treating_physician: bool
    specialty: str | None
    subspecialties: list[str] = field(default_factory=list)


@dataclass
class People:
    """Who the requests of one response name, by id."""

    by_id: dict[uuid.UUID, Person]

    def requester(self, request: Request) -> RequesterSummary:
        person = self.by_id[request.requester_id]
        return RequesterSummary(
            id=person.id,
            name=person.name,
            rpps=person.rpps,
            treating_physician=person.treating_physician,
        )

    def assignee(self, request: Request) -> AssigneeSummary | None:
        if request.assignee_id is None:
            return None
        person = self.by_id[request.assignee_id]
        return AssigneeSummary(
            id=person.id,
            name=person.name,
            specialty=person.specialty,
            subspecialties=person.subspecialties,
        )


async def load(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> People:
    """Load these people and the sub-specialties they cover, in one query."""
    wanted = {i for i in ids if i is not None}
    people: dict[uuid.UUID, Person] = {}
    if not wanted:
        return People(people)
    rows = await session.execute(
        select(
            User.id,
            User.name,
            User.role,
            User.rpps,
            User.treating_physician,
            User.specialty_code,
            UserSubspecialty.subspecialty_code,
        )
        .outerjoin(UserSubspecialty, UserSubspecialty.user_id == User.id)
        .where(User.id.in_(wanted))
        .order_by(User.id, UserSubspecialty.subspecialty_code)
    )
    for user_id, name, role, rpps, treating, specialty, subspecialty in rows:
        person = people.get(user_id)
        if person is None:
            person = people[user_id] = Person(user_id, name, Role(role), rpps, treating, specialty)
        if subspecialty is not None:
            person.subspecialties.append(subspecialty)
    return People(people)


async def of_requests(session: AsyncSession, requests: Iterable[Request]) -> People:
    """The requesters and assignees of these requests."""
    return await load(session, (i for r in requests for i in (r.requester_id, r.assignee_id)))


def shown_name(request: Request, author_id: uuid.UUID, name: str, role: Role | str) -> str:
    """The name a participant sees for someone who wrote or uploaded on ``request``.

    A specialist who no longer holds the request stays anonymous, as in the history:
    the participants learn nothing about the colleagues who declined it.
    """
    if Role(role) == Role.SPECIALIST and author_id != request.assignee_id:
        return FORMER_SPECIALIST
    return name


def reference(request: Request, author_id: uuid.UUID, name: str, role: Role | str) -> PersonRef:
    return PersonRef(id=author_id, name=shown_name(request, author_id, name, role))
