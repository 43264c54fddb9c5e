"""The OpenAPI document says what the service answers: its errors, its formats."""

import httpx
import pytest

PROBLEM = {"$ref": "#/components/schemas/ProblemDetails"}
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def errors(operation: dict) -> list[int]:
    return sorted(int(status) for status in operation["responses"] if int(status) >= 400)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_error_response_is_a_problem_details(document: dict) -> None:
    for label, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            # Only the problem details the service answers, never Litestar's own shape.
            assert response["content"] == {
                "application/problem+json": {
                    "schema": PROBLEM,
                    "examples": response["content"]["application/problem+json"]["examples"],
                }
            }, (label, status)
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"status", "title", "detail"}
    assert set(problem["properties"]) == {"status", "title", "detail", "type", "errors"}


# What anyone may call without a token: the login, and the links e-mailed to people.
PUBLIC = {
    "GET /health",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/password-reset",
    "GET /api/v1/auth/tokens/{token}",
    "POST /api/v1/auth/invitation",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/auth/email-confirmation",
}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_each_operation_documents_the_errors_it_can_answer(document: dict) -> None:
    documented = {label: errors(operation) for label, operation in operations(document).items()}
    assert documented["GET /health"] == []
    assert documented["POST /api/v1/auth/login"] == [400, 401, 413, 422, 429]
    assert documented["GET /api/v1/me"] == [401]
    assert documented["GET /api/v1/requests"] == [400, 401]
    assert documented["GET /api/v1/requests/{request_id}"] == [401, 404]
    assert documented["GET /api/v1/users/{user_id}/schedule"] == [401, 403, 404]
    assert documented["POST /api/v1/requests/{request_id}/accept"] == [401, 403, 404, 409]
    assert documented["POST /api/v1/requests/{request_id}/attachments"] == [
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
    ]
    assert documented["GET /api/v1/requests/{request_id}/attachments"] == [401, 403, 404]
    assert documented["GET /api/v1/indicators"] == [400, 401, 403]
    assert documented["POST /api/v1/auth/invitation"] == [400, 404, 410, 413, 422]
    assert documented["GET /api/v1/auth/tokens/{token}"] == [404, 410]
    for label, statuses in documented.items():
        if label not in PUBLIC:
            assert 401 in statuses, label


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_schedule_times_are_documented_as_hh_mm(document: dict) -> None:
    slot = document["components"]["schemas"]["SlotIn"]["properties"]
    for name in ("start", "end"):
        assert slot[name]["type"] == "string"
        assert "format" not in slot[name]
        assert slot[name]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_attachment_download_documents_the_file_types(document: dict) -> None:
    download = operations(document)["GET /api/v1/requests/{request_id}/attachments/{attachment_id}"]
    assert set(download["responses"]["200"]["content"]) == {
        "application/pdf",
        "image/jpeg",
        "image/png",
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_only_the_login_and_health_need_no_token(document: dict) -> None:
    assert document["security"] == [{"BearerToken": []}]
    public = [label for label, op in operations(document).items() if op.get("security") == []]
    assert set(public) == PUBLIC


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_activity_report_documents_json_and_csv(document: dict) -> None:
    report = operations(document)["GET /api/v1/reports/activity"]
    content = report["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"type": "object"}
    assert content["text/csv"]["schema"] == {"type": "string"}
    formats = {p["name"]: p["schema"] for p in report["parameters"]}
    assert formats["format"]["enum"] == ["csv", "json"]
    assert formats["from"]["format"] == formats["to"]["format"] == "date"
