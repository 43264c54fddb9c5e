"""Schemathesis over every operation of the OpenAPI document, as each role.

Each operation gets a few generated calls (valid and invalid data; the seeded ids and
random ones) from the requester, the assigned specialist, the coordinator and an anonymous
caller, against the application in process on a seeded database. Every answer must be one
the document promises: no server error, a documented status and content type, a body that
fits its schema. Generation is derandomized, so a run is the same on every machine.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models import User
from tests.conftest import Ess, request_payload

BASE_URL = "http://ess.test.local"
EXAMPLES = {"requester": 2, "specialist": 2, "coordinator": 2, "anonymous": 1}
"""Generated calls per operation and strategy (valid or invalid data, seeded or random ids).

An anonymous call is refused (401) before anything else is looked at: one each is enough."""
PUBLIC = {
    "GET /health",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/password-reset",
    "GET /api/v1/auth/tokens/{token}",
    "POST /api/v1/auth/invitation",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/auth/email-confirmation",
}
"""Operations that answer the same whoever calls: fuzzed once, anonymously (a login is a
slow password hash, the login and reset throttles are per address, and the e-mailed links
carry their own credential)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = list(EXAMPLES)


@dataclass
class Seeded:
    """What the seeded database holds, for path parameters that exist."""

    ids: dict[str, str]
    tokens: dict[str, dict[str, str]]


async def seed(client: httpx.AsyncClient, ess: Ess) -> Seeded:
    """Add requests in several states, an attachment, messages, an absence and a schedule."""
    requester, coordinator = ess.requesters[0], ess.coordinator

    async def call(method: str, url: str, who: User, status: int, **kwargs: object) -> dict:
        response = await client.request(method, url, headers=ess.auth(who), **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    # The request the fuzzed calls aim at: assigned, with an attachment and a message.
    request = await call("POST", "/api/v1/requests", requester, 201, json=request_payload())
    url = f"/api/v1/requests/{request['id']}"
    pdf = b"%PDF-1.4\n" + b"0" * 200 + b"\n%%EOF\n"
    attachment = await call(
        "POST", f"{url}/attachments", requester, 201, files={"file": ("ecg.pdf", pdf)}
    )
    await call("POST", f"{url}/messages", requester, 201, json={"body": "Un ECG de plus."})
    assignee = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    # Another one, answered and closed, so that lists and indicators show every field.
    closed = await call("POST", "/api/v1/requests", requester, 201, json=request_payload())
    done = f"/api/v1/requests/{closed['id']}"
    await call("POST", f"{done}/assign", coordinator, 200, json={"assignee_id": str(assignee.id)})
    await call("POST", f"{done}/accept", assignee, 200)
    answer = {
        "answer": "Holter de 24 h, puis consultation.",
        "outcome": "consultation",
        "appointment_at": "2026-03-10T10:00:00+01:00",
    }
    await call("POST", f"{done}/answer", assignee, 200, json=answer)
    closing = {"usefulness": 4, "referral_avoided": True}
    await call("POST", f"{done}/close", requester, 200, json=closing)
    users = f"/api/v1/users/{assignee.id}"
    absence = await call(
        "POST",
        f"{users}/absences",
        coordinator,
        201,
        json={"start": "2026-04-01T08:00:00+02:00", "end": "2026-04-03T18:00:00+02:00"},
    )
    week = [{"weekday": day, "start": "08:00", "end": "00:00"} for day in range(5)]
    await call("PUT", f"{users}/schedule", coordinator, 200, json={"slots": week})
    return Seeded(
        ids={
            "request_id": request["id"],
            "attachment_id": attachment["id"],
            "user_id": str(assignee.id),
            "absence_id": absence["id"],
        },
        tokens={
            "requester": ess.auth(requester),
            "specialist": ess.auth(assignee),
            "coordinator": ess.auth(coordinator),
            "anonymous": {},
        },
    )


def fuzz(
    operation: schemathesis.APIOperation,
    path_ids: dict[str, str],
    send: Callable[[Case], httpx.Response],
    examples: int,
) -> int:
    """Run the generated calls of one operation; return how many were made."""
    names = {parameter.name for parameter in operation.path_parameters}
    known = {name: value for name, value in path_ids.items() if name in names}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(mode, path_parameters=known) for mode in modes]
    if known:
        strategies += [operation.as_strategy(mode) for mode in modes]
    # The document's examples (a period for the indicators) reach past the validation.
    strategies += operation.get_strategies_from_examples()
    calls = 0

    @settings(
        max_examples=examples * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Case) -> None:
        nonlocal calls
        calls += 1
        case.validate_response(send(case), checks=CHECKS)

    run()
    return calls


@pytest.mark.parametrize("role", ROLES)
async def test_every_operation_answers_as_documented(
    client: httpx.AsyncClient, ess: Ess, role: str
) -> None:
    seeded = await seed(client, ess)
    document = (await client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()
    auth = seeded.tokens[role]
    statuses: Counter[int] = Counter()

    def send(case: Case) -> httpx.Response:
        # Serialized as requests would send it, then sent through the app in this loop.
        prepared = requests.Request(**case.as_transport_kwargs(BASE_URL, auth)).prepare()
        call = client.request(
            prepared.method or "GET",
            prepared.url or BASE_URL,
            headers=dict(prepared.headers),
            content=prepared.body,
        )
        response = asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)
        statuses[response.status_code] += 1
        return response

    def run_all() -> tuple[dict[str, int], list[str]]:
        counts: dict[str, int] = {}
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in PUBLIC and role != "anonymous":
                continue
            try:
                counts[operation.label] = fuzz(operation, seeded.ids, send, EXAMPLES[role])
            except (Exception, BaseExceptionGroup) as failure:  # the call, checks and curl line
                failures.append(f"{operation.label} as {role}:\n{failure}")
        return counts, failures

    started = time.monotonic()
    counts, failures = await asyncio.to_thread(run_all)
    elapsed = time.monotonic() - started
    print(f"schemathesis as {role}: {sum(counts.values())} calls in {elapsed:.1f} s, {statuses}")
    # The seeded ids and the role's token do reach the service: not everything is refused.
    if role != "anonymous":
        assert any(200 <= status < 300 for status in statuses), statuses
    assert not failures, "\n\n".join(failures)
