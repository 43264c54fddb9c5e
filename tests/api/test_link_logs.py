"""A real server's log never holds an e-mailed link's token (it is a credential until used)."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from models import AccountToken
from security.tokens import link_token
from tests.conftest import Ess
from tests.servers import ServerProcess

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def test_the_access_log_masks_link_tokens(ess: Ess, settings, tmp_path: Path) -> None:
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "server.log"
    with ServerProcess(env, log) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            created = await http.post(
                "/api/v1/users",
                json={"role": "requester", "email": "anne@cabinet-test.fr", "name": "Dr Anne"},
                headers=ess.auth(ess.coordinator),
            )
            assert created.status_code == 201, created.text
            async with ess.context.db.reading() as session:
                token_id = (await session.execute(select(AccountToken.id))).scalar_one()
            token = link_token(settings.resolved_secret_key(), token_id)
            described = await http.get(f"/api/v1/auth/tokens/{token}")
            assert described.status_code == 200, described.text
            assert (await http.get("/api/v1/auth/tokens/pas-un-jeton")).status_code == 404
    text = log.read_text()
    # The access line names the route's template, never the path as sent.
    assert "GET /api/v1/auth/tokens/{token} 200" in text
    assert "GET /api/v1/auth/tokens/{token} 404" in text
    assert token not in text and "pas-un-jeton" not in text
