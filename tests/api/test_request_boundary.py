"""The request is the transaction: its writes are kept when the handler succeeds, else undone."""

from typing import Annotated

import httpx
import pytest
from litestar import Litestar, post
from litestar.params import QueryParameter
from sqlmodel import select

from app.context import AppContext
from app.dependencies import DbSession
from app.main import create_app
from app.services.specialties import create_specialty
from models import Specialty, SpecialtyCreate, SpecialtyRead
from models.errors import ConflictError

OUTCOMES = {
    "succeed": None,
    "refuse": ConflictError("Spécialité refusée après son écriture."),
    "crash": RuntimeError("a bug after the write"),
}


def boundary_app(context: AppContext) -> Litestar:
    """The application, plus a handler that writes through the request's session."""

    @post("/boundary", exclude_from_auth=True, status_code=201)
    async def create_then(
        session: DbSession,
        outcome: Annotated[str, QueryParameter(name="outcome")],
    ) -> SpecialtyRead:
        """Write and flush a specialty, as a service does, then end as ``outcome`` says."""
        data = SpecialtyCreate(code="neurologie", name="Neurologie")
        created = await create_specialty(session, data)
        if error := OUTCOMES[outcome]:
            raise error
        return created

    app = create_app(context)
    app.register(create_then)
    return app


async def codes(context: AppContext) -> list[str]:
    async with context.db.reading() as session:
        return list((await session.execute(select(Specialty.code))).scalars())


@pytest.mark.parametrize(
    ("outcome", "status", "kept"),
    [("succeed", 201, ["neurologie"]), ("refuse", 409, []), ("crash", 500, [])],
)
async def test_handler_writes_are_committed_only_on_success(
    context: AppContext, outcome: str, status: int, kept: list[str]
) -> None:
    transport = httpx.ASGITransport(app=boundary_app(context), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ess.test.local") as http:
        response = await http.post("/boundary", params={"outcome": outcome})
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await codes(context) == kept
