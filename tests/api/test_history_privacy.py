"""Each viewer's history of a request: the coordinator follows the dispatcher, the doctors
see no colleague's availability, and a decline's comment is clinical content."""

import json
import subprocess

from tests.api.test_bad_input import assert_problem, snapshot
from tests.conftest import Ess, request_payload
from tests.security.test_at_rest import BIN, _base_env

COMMENT = "Tableau évocateur d'une cardiopathie de l'enfant : à voir en cardiopédiatrie."


async def history(client, ess: Ess, rid: str, viewer) -> list[dict]:
    response = await client.get(f"/api/v1/requests/{rid}/events", headers=ess.auth(viewer))
    assert response.status_code == 200, response.text
    return response.json()


async def declined_request(client, ess: Ess) -> tuple[str, object, object]:
    """Specialist 1 on leave, specialist 0 declines with a comment, specialist 2 gets it."""
    first, on_leave, last = ess.specialists
    response = await client.post(
        f"/api/v1/users/{on_leave.id}/absences",
        json={
            "start": "2026-03-01T00:00:00+01:00",
            "end": "2026-03-20T00:00:00+01:00",
            "reason": "congé maternité",
        },
        headers=ess.auth(ess.coordinator),
    )
    assert response.status_code == 201, response.text
    request = (
        await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
    ).json()
    assert request["assignee_id"] == str(first.id)
    response = await client.post(
        f"/api/v1/requests/{request['id']}/decline",
        json={"reason": "out_of_field", "comment": COMMENT},
        headers=ess.auth(first),
    )
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == str(last.id)
    return request["id"], first, last


async def test_requester_sees_no_other_specialist_nor_why_they_were_left_out(
    client, ess: Ess
) -> None:
    rid, first, last = await declined_request(client, ess)
    _, on_leave, _ = ess.specialists
    events = await history(client, ess, rid, ess.requesters[0])
    shown = json.dumps(events, ensure_ascii=False)
    for other in (first, on_leave):
        assert other.name not in shown
        assert str(other.id) not in shown
    for secret in ("absent", "congé", "maternité", "capacité", "excluded", "rotation"):
        assert secret not in shown, secret
    assigned = [e["detail"] for e in events if e["kind"] == "assigned"]
    assert assigned == [
        {"reason": "Demande attribuée à un spécialiste de l'ESS"},
        {"reason": f"Demande attribuée à {last.name}"},
    ]
    declined = next(e for e in events if e["kind"] == "declined")
    assert declined["detail"] == {
        "reason": "out_of_field",
        "label": "hors de mon champ de compétence",
        "comment": COMMENT,
    }


async def test_new_assignee_sees_the_comment_and_only_what_concerns_them(client, ess: Ess) -> None:
    rid, first, last = await declined_request(client, ess)
    _, on_leave, _ = ess.specialists
    events = await history(client, ess, rid, last)
    shown = json.dumps(events, ensure_ascii=False)
    for other in (first, on_leave):
        assert other.name not in shown
        assert str(other.id) not in shown
    assert "congé" not in shown and "absent" not in shown
    assert events[-1]["detail"] == {"reason": f"Demande attribuée à {last.name}"}
    assert next(e for e in events if e["kind"] == "declined")["detail"]["comment"] == COMMENT


async def test_coordinator_keeps_the_explanation_never_the_comment(client, ess: Ess) -> None:
    rid, first, last = await declined_request(client, ess)
    _, on_leave, _ = ess.specialists
    events = await history(client, ess, rid, ess.coordinator)
    shown = json.dumps(events, ensure_ascii=False)
    assert COMMENT not in shown
    first_assignment = next(e for e in events if e["kind"] == "assigned")["detail"]
    assert {e["specialist_id"]: e["label"] for e in first_assignment["excluded"]} == {
        str(on_leave.id): "absent(e)",
        str(last.id): "ne couvre pas la sur-spécialité demandée",
    }
    declined = next(e for e in events if e["kind"] == "declined")
    assert declined["actor_id"] == str(first.id)
    assert declined["detail"] == {
        "reason": "out_of_field",
        "label": "hors de mon champ de compétence",
    }


async def test_decline_comment_is_encrypted_at_rest(client, ess: Ess) -> None:
    rid, _, _ = await declined_request(client, ess)
    shown = json.dumps(await history(client, ess, rid, ess.requesters[0]), ensure_ascii=False)
    assert "cardiopédiatrie" in shown  # kept, for those who may read it
    stored = json.dumps(await snapshot(ess), ensure_ascii=False)
    assert "out_of_field" in stored  # the category is plain, for the coordinator's counts
    assert "cardiopédiatrie" not in stored
    assert "cardiop" not in stored


async def test_free_text_is_no_decline_reason(client, ess: Ess) -> None:
    request = (
        await client.post(
            "/api/v1/requests", json=request_payload(), headers=ess.auth(ess.requesters[0])
        )
    ).json()
    assignee = next(s for s in ess.specialists if str(s.id) == request["assignee_id"])
    before = await snapshot(ess)
    for body, field in [
        ({"reason": "Patiente de ma belle-sœur, je passe la main"}, "reason"),
        ({"reason": "other", "comment": ""}, "comment"),
        ({"reason": "other", "comment": "x" * 20_001}, "comment"),
        ({"reason": "other", "motif": "x"}, "motif"),
    ]:
        response = await client.post(
            f"/api/v1/requests/{request['id']}/decline", json=body, headers=ess.auth(assignee)
        )
        problem = assert_problem(response, 400)
        assert [e["field"] for e in problem["errors"]] == [field]
        assert "Input should" not in problem["detail"] and " or " not in problem["detail"]
    assert await snapshot(ess) == before


async def test_decline_comment_survives_key_rotation(client, ess: Ess, settings) -> None:
    rid, _, last = await declined_request(client, ess)
    env = {
        **_base_env(),
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_DATA_DIR": str(settings.data_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    for args in (("keys", "rotate"), ("keys", "retire", "1")):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
    ess.context.__dict__.pop("vault", None)  # a fresh key ring, as a restarted server's
    assert ess.context.vault.keyring.versions == (2,)
    events = await history(client, ess, rid, last)
    assert next(e for e in events if e["kind"] == "declined")["detail"]["comment"] == COMMENT
