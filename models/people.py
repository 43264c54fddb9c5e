"""Who is on the other side of a request: the short views of people that requests,
messages and attachments carry (never an e-mail address, never an account's settings)."""

import uuid

from sqlmodel import SQLModel

# Shown instead of the name of a specialist who no longer holds the request: a
# participant learns nothing about the colleagues who declined it or let it go.
FORMER_SPECIALIST = "Un spécialiste de l'ESS"


class RequesterSummary(SQLModel):
    """The requester as both participants and the coordinator see them."""

    id: uuid.UUID
    name: str
    rpps: str | None
    treating_physician: bool
    """A médecin traitant."""


class AssigneeSummary(SQLModel):
    """The specialist who holds the request."""

    id: uuid.UUID
    name: str
    specialty: str | None
    subspecialties: list[str]
    """The sub-specialties the specialist covers (codes)."""


class PersonRef(SQLModel):
    """Someone who did something on a request (wrote, uploaded)."""

    id: uuid.UUID
    name: str
    """The name, or « Un spécialiste de l'ESS » for a specialist who no longer holds it."""
