"""Bad input gets a 4xx problem-details response that names the problem and changes nothing."""

import json
import logging
import uuid

import pytest
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from tests.conftest import Ess, request_payload
from tests.factories import holder, submit


async def snapshot(ess: Ess) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused call wrote nothing."""
    rows = {}
    async with ess.context.db.reading() as session:
        # Migration tests take a snapshot at older schemas: only the tables that exist.
        existing = set(
            await session.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
        )
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in existing:
                continue
            result = await session.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1'))
            rows[table.name] = [tuple(map(str, row)) for row in result]
    return rows


def assert_problem(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    for needle in needles:
        assert needle in json.dumps(body, ensure_ascii=False), (needle, body)
    return body


def patient(**overrides: object) -> dict:
    base = request_payload()["patient"]
    assert isinstance(base, dict)
    return {**base, **overrides}


SUBMISSIONS = [
    pytest.param(
        request_payload(consent=False), 400, ["consent", "consentement"], id="consent-false"
    ),
    pytest.param(
        {k: v for k, v in request_payload().items() if k != "consent"},
        400,
        ["consent"],
        id="consent-missing",
    ),
    pytest.param(
        request_payload(patient=patient(ins="256041234567831")),
        400,
        ["patient.ins", "NIR"],
        id="ins-wrong-key",
    ),
    pytest.param(
        request_payload(patient=patient(ins="2560412")), 400, ["patient.ins"], id="ins-malformed"
    ),
    pytest.param(
        request_payload(specialty="dermatologie"),
        422,
        ["dermatologie", "inconnue"],
        id="unknown-specialty",
    ),
    pytest.param(
        request_payload(subspecialty="valvulopathie"),
        422,
        ["valvulopathie", "subspecialty"],
        id="unknown-subspecialty",
    ),
    pytest.param(
        request_payload(question="x" * 20_001), 400, ["question", "20000"], id="question-too-long"
    ),
    pytest.param(request_payload(question="   "), 400, ["question"], id="question-blank"),
    pytest.param(request_payload(priority="très urgent"), 400, ["priority"], id="bad-priority"),
    pytest.param(
        request_payload(patient=patient(birth_date="2990-01-01")),
        400,
        ["birth_date"],
        id="birth-date-future",
    ),
    pytest.param(request_payload(patient=patient(sex="X")), 400, ["patient.sex"], id="bad-sex"),
    pytest.param(request_payload(consent="oui"), 400, ["consent"], id="wrong-type"),
    pytest.param(request_payload(patient="Jeanne Durand"), 400, ["patient"], id="patient-string"),
]


@pytest.mark.parametrize(("payload", "status", "needles"), SUBMISSIONS)
async def test_refused_submission_changes_nothing(
    client, ess: Ess, payload: dict, status: int, needles: list[str]
) -> None:
    before = await snapshot(ess)
    response = await client.post(
        "/api/v1/requests", json=payload, headers=ess.auth(ess.requesters[0])
    )
    assert_problem(response, status, *needles)
    assert await snapshot(ess) == before


async def test_malformed_json_is_400(client, ess: Ess) -> None:
    before = await snapshot(ess)
    response = await client.post(
        "/api/v1/requests",
        content=b'{"specialty": "cardiologie", ',
        headers={**ess.auth(ess.requesters[0]), "Content-Type": "application/json"},
    )
    assert_problem(response, 400)
    assert await snapshot(ess) == before


@pytest.mark.parametrize(
    ("rpps", "needle"),
    [
        ("1234567890", "11 chiffres"),
        ("12345678901", "clé de contrôle"),
        ("1000000001A", "11 chiffres"),
    ],
)
async def test_bad_rpps_is_refused(client, ess: Ess, rpps: str, needle: str) -> None:
    before = await snapshot(ess)
    response = await client.post(
        "/api/v1/users",
        json={"role": "requester", "email": "rpps@cabinet-test.fr", "name": "Dr R", "rpps": rpps},
        headers=ess.auth(ess.coordinator),
    )
    assert_problem(response, 400, "rpps", needle)
    assert await snapshot(ess) == before


async def test_valid_rpps_is_accepted(client, ess: Ess) -> None:
    response = await client.post(
        "/api/v1/users",
        json={
            "role": "requester",
            "email": "rpps@cabinet-test.fr",
            "name": "Dr R",
            "rpps": "10000000017",
            "treating_physician": True,
        },
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201, response.text
    assert response.json()["rpps"] == "10000000017"
    assert response.json()["treating_physician"] is True


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"role": "specialist", "email": "s@ess-test.fr", "name": "S"}, 422, "spécialité"),
        (
            {"role": "specialist", "email": "s@ess-test.fr", "name": "S", "specialty": "pneumo"},
            422,
            "pneumo",
        ),
        (
            {
                "role": "specialist",
                "email": "s@ess-test.fr",
                "name": "S",
                "specialty": "cardiologie",
                "subspecialties": ["valvulo"],
            },
            422,
            "valvulo",
        ),
        (
            {"role": "coordinator", "email": "c@ess-test.fr", "name": "C", "capacity": 3},
            422,
            "spécialistes",
        ),
        (
            {
                "role": "specialist",
                "email": "s@ess-test.fr",
                "name": "S",
                "specialty": "cardiologie",
                "treating_physician": True,
            },
            422,
            "médecin traitant",
        ),
        (
            {"role": "requester", "email": "demandeur0@cabinet-test.fr", "name": "Doublon"},
            409,
            "existe déjà",
        ),
        ({"role": "requester", "email": "pas-une-adresse", "name": "X"}, 400, "email"),
        ({"role": "chef", "email": "x@ess-test.fr", "name": "X"}, 400, "role"),
        (
            {"role": "requester", "email": "x@ess-test.fr", "name": "X", "password": "court"},
            400,
            "password",
        ),
    ],
)
async def test_bad_user_is_refused(client, ess: Ess, body: dict, status: int, needle: str) -> None:
    before = await snapshot(ess)
    response = await client.post("/api/v1/users", json=body, headers=ess.auth(ess.coordinator))
    assert_problem(response, status, needle)
    assert await snapshot(ess) == before


async def test_duplicate_specialty_is_409(client, ess: Ess) -> None:
    before = await snapshot(ess)
    response = await client.post(
        "/api/v1/specialties",
        json={"code": "cardiologie", "name": "Cardio"},
        headers=ess.auth(ess.coordinator),
    )
    assert_problem(response, 409, "existe déjà")
    response = await client.post(
        "/api/v1/specialties",
        json={"code": "Pas Un Code", "name": "X"},
        headers=ess.auth(ess.coordinator),
    )
    assert_problem(response, 400, "code")
    assert await snapshot(ess) == before


async def test_specialty_created_and_listed(client, ess: Ess) -> None:
    response = await client.post(
        "/api/v1/specialties",
        json={
            "code": "dermatologie",
            "name": "Dermatologie",
            "subspecialties": [{"code": "dermato-oncologie", "name": "Dermato-oncologie"}],
        },
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201
    listing = (await client.get("/api/v1/specialties", headers=ess.auth(ess.requesters[0]))).json()
    derm = next(s for s in listing if s["code"] == "dermatologie")
    assert derm["retired"] is False
    assert derm["subspecialties"] == [
        {"code": "dermato-oncologie", "name": "Dermato-oncologie", "retired": False}
    ]


async def test_unknown_ids_are_404(client, ess: Ess) -> None:
    before = await snapshot(ess)
    missing = uuid.uuid4()
    response = await client.post(
        f"/api/v1/requests/{missing}/accept", headers=ess.auth(ess.specialists[0])
    )
    assert_problem(response, 404, "Demande introuvable")
    response = await client.patch(
        f"/api/v1/users/{missing}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    assert_problem(response, 404, "Utilisateur introuvable")
    response = await client.get("/api/v1/requests/pas-un-uuid", headers=ess.auth(ess.coordinator))
    assert response.status_code in (400, 404)
    assert await snapshot(ess) == before


async def submitted(client, ess: Ess) -> tuple[dict, object]:
    body = await submit(client, ess)
    return body, holder(ess, body)


async def test_illegal_transitions_are_409_and_change_nothing(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    rid = request["id"]
    gp = ess.requesters[0]
    before = await snapshot(ess)
    # Close before any answer.
    response = await client.post(
        f"/api/v1/requests/{rid}/close",
        json={"usefulness": 4, "referral_avoided": True},
        headers=ess.auth(gp),
    )
    assert_problem(response, 409, "clôturer", "attribuée")
    assert await snapshot(ess) == before

    await client.post(
        f"/api/v1/requests/{rid}/answer",
        json={"answer": "Avis donné.", "outcome": "advice"},
        headers=ess.auth(assignee),
    )
    before = await snapshot(ess)
    for path, body, who, needle in [
        ("accept", None, assignee, "accepter"),
        ("answer", {"answer": "Encore", "outcome": "advice"}, assignee, "répondre"),
        ("cancel", None, gp, "annuler"),
        ("decline", {"reason": "unavailable"}, assignee, "décliner"),
    ]:
        response = await client.post(
            f"/api/v1/requests/{rid}/{path}", json=body, headers=ess.auth(who)
        )
        assert_problem(response, 409, needle, "répondue")
    assert await snapshot(ess) == before


async def test_second_decline_by_same_specialist_is_refused(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    rid = request["id"]
    response = await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "unavailable"},
        headers=ess.auth(assignee),
    )
    assert response.status_code == 200
    before = await snapshot(ess)
    response = await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "unavailable"},
        headers=ess.auth(assignee),
    )
    assert_problem(response, 409, "déjà décliné")
    assert await snapshot(ess) == before


async def test_manual_assignment_refusals(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    rid = request["id"]
    await client.post(
        f"/api/v1/requests/{rid}/decline",
        json={"reason": "unavailable"},
        headers=ess.auth(assignee),
    )
    inactive = ess.specialists[2]
    await client.patch(
        f"/api/v1/users/{inactive.id}", json={"active": False}, headers=ess.auth(ess.coordinator)
    )
    before = await snapshot(ess)
    for target, needle in [
        (assignee.id, "déjà décliné"),
        (inactive.id, "désactivé"),
        (ess.coordinator.id, "spécialiste"),
        (uuid.uuid4(), "spécialiste"),
    ]:
        response = await client.post(
            f"/api/v1/requests/{rid}/assign",
            json={"assignee_id": str(target)},
            headers=ess.auth(ess.coordinator),
        )
        assert_problem(response, 422, needle)
    assert await snapshot(ess) == before


async def test_answer_validation(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    rid = request["id"]
    before = await snapshot(ess)
    for body, status, needle in [
        ({"answer": "x", "outcome": "rien"}, 400, "outcome"),
        ({"answer": "", "outcome": "advice"}, 400, "answer"),
        (
            {"answer": "x", "outcome": "advice", "appointment_at": "2026-03-10T10:00:00+01:00"},
            422,
            "rendez-vous",
        ),
        (
            {"answer": "x", "outcome": "consultation", "appointment_at": "2026-03-10T10:00:00"},
            400,
            "appointment_at",
        ),
    ]:
        response = await client.post(
            f"/api/v1/requests/{rid}/answer", json=body, headers=ess.auth(assignee)
        )
        assert_problem(response, status, needle)
    assert await snapshot(ess) == before


async def test_close_validation(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    rid = request["id"]
    await client.post(
        f"/api/v1/requests/{rid}/answer",
        json={"answer": "Avis.", "outcome": "advice"},
        headers=ess.auth(assignee),
    )
    before = await snapshot(ess)
    for body in [
        {"usefulness": 6, "referral_avoided": True},
        {"usefulness": 0, "referral_avoided": True},
        {"usefulness": 3},
    ]:
        response = await client.post(
            f"/api/v1/requests/{rid}/close", json=body, headers=ess.auth(ess.requesters[0])
        )
        assert_problem(response, 400)
    assert await snapshot(ess) == before


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1000", "offset=-1", "status=perdu", "limit=abc"]
)
async def test_bad_list_query_is_400(client, ess: Ess, query: str) -> None:
    response = await client.get(f"/api/v1/requests?{query}", headers=ess.auth(ess.coordinator))
    assert_problem(response, 400)


ENGLISH = ("Expected", "Invalid", "Missing", "Input should", "Field required", " or ")


@pytest.mark.parametrize(
    ("path", "parameter", "needle"),
    [
        ("/api/v1/requests?offset=9223372036854775808", "offset", "au plus"),
        ("/api/v1/requests?offset=-1", "offset", "au moins 0"),
        ("/api/v1/requests?limit=100000", "limit", "au plus 200"),
        ("/api/v1/requests?limit=abc", "limit", "nombre entier"),
        ("/api/v1/requests?status=foo", "status", "valeur inconnue"),
        ("/api/v1/sla/alerts?state=foo", "state", "valeur inconnue"),
        ("/api/v1/indicators?to=2026-01-31", "from", "obligatoire"),
        ("/api/v1/reports/activity?from=2026-13-01&to=2026-01-31", "from", "AAAA-MM-JJ"),
        ("/api/v1/reports/activity?from=2026-02-01&to=2026-01-31", "to", "inversée"),
        ("/api/v1/reports/activity?from=2026-01-01&to=2026-01-31&format=xml", "format", "csv"),
    ],
)
async def test_bad_query_parameter_is_a_french_400_naming_it(
    client, ess: Ess, path: str, parameter: str, needle: str
) -> None:
    before = await snapshot(ess)
    body = assert_problem(await client.get(path, headers=ess.auth(ess.coordinator)), 400, needle)
    assert body["errors"] == [
        {"field": parameter, "source": "query", "message": body["errors"][0]["message"]}
    ]
    assert not any(word in body["detail"] for word in ENGLISH), body
    assert await snapshot(ess) == before


async def test_unknown_fields_are_refused_not_ignored(client, ess: Ess) -> None:
    target = ess.requesters[0]
    before = await snapshot(ess)
    response = await client.patch(
        f"/api/v1/users/{target.id}",
        json={"active": False, "password": "Nouveau-mot-de-passe-1", "role": "coordinator"},
        headers=ess.auth(ess.coordinator),
    )
    body = assert_problem(response, 400, "champ inconnu")
    assert {e["field"] for e in body["errors"]} == {"password", "role"}
    assert await snapshot(ess) == before
    # Nested objects too, named by their JSON path.
    response = await client.post(
        "/api/v1/requests",
        json=request_payload(patient=patient(nir="256041234567830")),
        headers=ess.auth(ess.requesters[0]),
    )
    body = assert_problem(response, 400, "champ inconnu")
    assert [e["field"] for e in body["errors"]] == ["patient.nir"]
    assert await snapshot(ess) == before


async def test_a_body_is_asked_for_in_french(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    before = await snapshot(ess)
    response = await client.post(
        f"/api/v1/requests/{request['id']}/decline", headers=ess.auth(assignee)
    )
    body = assert_problem(response, 400, "corps JSON obligatoire")
    assert "'data'" not in json.dumps(body)
    assert await snapshot(ess) == before


async def test_illegal_transition_message_is_proper_french(client, ess: Ess) -> None:
    request, assignee = await submitted(client, ess)
    url = f"/api/v1/requests/{request['id']}/accept"
    assert (await client.post(url, headers=ess.auth(assignee))).status_code == 200
    response = await client.post(url, headers=ess.auth(assignee))
    assert_problem(response, 409, "Impossible d'accepter une demande au statut « acceptée »")


NUL = "\u0000"


def control_character_cases(ess: Ess) -> list[tuple[str, str, object, dict, str]]:
    """(method, path, caller, body, the field named in the error) with a control character."""
    specialist = ess.specialists[0]
    absence = {"start": "2026-03-10T08:00:00+01:00", "end": "2026-03-11T18:00:00+01:00"}
    user = {"role": "requester", "email": "nul@cabinet-test.fr", "name": "Dr Nul"}
    return [
        (
            "POST",
            "/api/v1/auth/login",
            None,
            {"email": f"anne{NUL}@x.fr", "password": "x"},
            "email",
        ),
        ("POST", "/api/v1/users", ess.coordinator, {**user, "name": f"Dr{NUL}Nul"}, "name"),
        ("POST", "/api/v1/users", ess.coordinator, {**user, "name": "Dr\nNul"}, "name"),
        (
            "POST",
            "/api/v1/users",
            ess.coordinator,
            {
                **user,
                "role": "specialist",
                "specialty": "cardiologie",
                "subspecialties": [f"hta{NUL}"],
            },
            "subspecialties.0",
        ),
        (
            "PATCH",
            f"/api/v1/users/{specialist.id}",
            ess.coordinator,
            {"subspecialties": [f"rythmologie{NUL}"]},
            "subspecialties.0",
        ),
        (
            "POST",
            "/api/v1/specialties",
            ess.coordinator,
            {"code": "pneumologie", "name": f"Pneumo{NUL}logie"},
            "name",
        ),
        (
            "POST",
            "/api/v1/specialties",
            ess.coordinator,
            {
                "code": "pneumologie",
                "name": "Pneumologie",
                "subspecialties": [{"code": "sommeil", "name": f"Som{NUL}meil"}],
            },
            "subspecialties.0.name",
        ),
        (
            "POST",
            f"/api/v1/users/{specialist.id}/absences",
            specialist,
            {**absence, "reason": f"congé{NUL}"},
            "reason",
        ),
        (
            "POST",
            "/api/v1/requests",
            ess.requesters[0],
            request_payload(specialty=f"cardiologie{NUL}"),
            "specialty",
        ),
        (
            "POST",
            "/api/v1/requests",
            ess.requesters[0],
            request_payload(patient=patient(last_name=f"Du{NUL}rand")),
            "patient.last_name",
        ),
        (
            "POST",
            "/api/v1/requests",
            ess.requesters[0],
            request_payload(question=f"Palpitations{NUL} ?"),
            "question",
        ),
        (
            "POST",
            "/api/v1/requests",
            ess.requesters[0],
            request_payload(question="Palpitations\x1b[2J ?"),
            "question",
        ),
        (
            # A right-to-left override: the name would display backwards.
            "POST",
            "/api/v1/specialties",
            ess.coordinator,
            {"code": "dermatologie", "name": "Derm\u202eeigolota", "subspecialties": []},
            "name",
        ),
    ]


async def test_control_characters_are_refused_in_every_text_field(client, ess: Ess) -> None:
    before = await snapshot(ess)
    for method, path, caller, body, field in control_character_cases(ess):
        headers = ess.auth(caller) if caller else {}
        response = await client.request(method, path, json=body, headers=headers)
        problem = assert_problem(response, 400, "caractère de contrôle interdit")
        assert [e["field"] for e in problem["errors"]] == [field], (path, problem)
    assert await snapshot(ess) == before


async def test_prose_keeps_its_line_breaks(client, ess: Ess) -> None:
    question = "Palpitations depuis trois semaines.\n\n\tECG joint : FA paroxystique ?\r\n"
    response = await client.post(
        "/api/v1/requests",
        json=request_payload(question=question),
        headers=ess.auth(ess.requesters[0]),
    )
    assert response.status_code == 201, response.text
    assert response.json()["question"] == question


async def test_a_failing_statement_logs_no_parameter(
    client, ess: Ess, caplog: pytest.LogCaptureFixture
) -> None:
    # A database that fails under the service (a column gone): the error is logged,
    # the statement's parameters (here the e-mail address typed) are not.
    async with ess.context.db.transaction() as session:
        await session.execute(text('ALTER TABLE "user" RENAME COLUMN email TO email_gone'))
    marker = "parametre-secret-7f3a@cabinet-test.fr"
    caplog.set_level(logging.DEBUG)
    response = await client.post(
        "/api/v1/auth/login", json={"email": marker, "password": "mot-de-passe-quelconque"}
    )
    assert_problem(response, 500, "journalisée")
    assert "email" in caplog.text  # the failure itself is in the log ...
    assert marker not in caplog.text  # ... without what was bound to the statement
    assert "mot-de-passe-quelconque" not in caplog.text


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
@pytest.mark.parametrize("depth", [1_000, 20_000])
async def test_deeply_nested_json_is_400(client, ess: Ess, opening: bytes, depth: int) -> None:
    closing = b"]" if opening == b"[" else b"}"
    before = await snapshot(ess)
    for path, headers in [
        ("/api/v1/auth/login", {}),
        ("/api/v1/requests", ess.auth(ess.requesters[0])),
    ]:
        response = await client.post(
            path,
            content=opening * depth + b"1" + closing * depth,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "imbriqué")
    assert await snapshot(ess) == before


async def test_json_bodies_have_a_json_sized_limit(client, ess: Ess) -> None:
    before = await snapshot(ess)
    # Short strings, just under the attachment limit that every route used to get.
    flood = json.dumps(["abcdefgh"] * 1_600_000).encode()
    assert 19_000_000 < len(flood) < 20 * 1024 * 1024
    response = await client.post(
        "/api/v1/auth/login", content=flood, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "taille maximale")
    # Sent without a length, the body is cut off as it streams in all the same.

    async def chunks():
        for start in range(0, len(flood), 64 * 1024):
            yield flood[start : start + 64 * 1024]

    response = await client.post(
        "/api/v1/requests",
        content=chunks(),
        headers={**ess.auth(ess.requesters[0]), "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "taille maximale")
    assert await snapshot(ess) == before


async def test_the_largest_legitimate_bodies_still_fit(client, ess: Ess) -> None:
    # 20 000 characters outside the BMP, escaped: 12 bytes each on the wire.
    question = "🫀" * 20_000
    payload = json.dumps(request_payload(question=question), ensure_ascii=True).encode()
    assert len(payload) > 240_000
    gp = ess.requesters[0]
    response = await client.post(
        "/api/v1/requests",
        content=payload,
        headers={**ess.auth(gp), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["question"] == question
    # An upload far larger than any JSON body is still welcome on its own route.
    pdf = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    response = await client.post(
        f"/api/v1/requests/{response.json()['id']}/attachments",
        headers=ess.auth(gp),
        files={"file": ("echo.pdf", pdf, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(pdf)
