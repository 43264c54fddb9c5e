"""Debian's nginx with deploy/'s site in front of a real server: TLS, HTTP/2, addresses, uploads.

Skipped (with the reason) where nginx is not installed; ``.ci/run`` installs it and sets
``ESS_REQUIRE_NGINX=1``, which turns its absence into a failure.
"""

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config import Settings
from models import Role
from tests.conftest import Ess, request_payload
from tests.servers import ServerProcess, free_port

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ess-router.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
)
PASSWORD = "Paravent-tilleul-58-orage"
MB = 1024 * 1024


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the cryptography package."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ess-router test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


class Nginx:
    """nginx in the foreground, with deploy/'s site pointed at the test's ports and files."""

    def __init__(self, folder: Path, upstream_port: int, https_port: int) -> None:
        self.folder = folder
        self.https_port = https_port
        self.http_port = free_port()
        self.cert, key = self_signed(folder)
        site = SITE.read_text()
        for old, new in (
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"),
            ("listen [::]:443 ssl http2;", ""),
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            ("listen [::]:80;", ""),
            ("127.0.0.1:8000", f"127.0.0.1:{upstream_port}"),
            ("/etc/letsencrypt/live/ess-cardio.example.fr/fullchain.pem", str(self.cert)),
            ("/etc/letsencrypt/live/ess-cardio.example.fr/privkey.pem", str(key)),
            ("/var/log/nginx/", f"{folder}/"),
        ):
            assert old in site, old
            site = site.replace(old, new)
        (folder / "site.conf").write_text(site)
        (folder / "nginx.conf").write_text(
            f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events { worker_connections 64; }\n"
            + f"http {{\n  access_log off;\n  client_body_temp_path {folder}/body;\n"
            + f"  proxy_temp_path {folder}/proxy;\n  include {folder}/site.conf;\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Nginx":
        assert NGINX is not None
        command = [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen([*command, "-g", "daemon off;"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(
                    f"https://127.0.0.1:{self.https_port}/health",
                    verify=ssl.create_default_context(cafile=self.cert),
                )
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError((self.folder / "error.log").read_text())

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def client(self, source: str, http2: bool = True) -> httpx.AsyncClient:
        """A client over TLS, connecting from ``source`` (any 127.x.y.z address)."""
        transport = httpx.AsyncHTTPTransport(
            local_address=source, verify=ssl.create_default_context(cafile=self.cert), http2=http2
        )
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=120)


@pytest.fixture
def nginx_binary() -> str:
    if NGINX is None:
        reason = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("ESS_REQUIRE_NGINX") == "1":
            pytest.fail(reason + " and ESS_REQUIRE_NGINX=1")
        pytest.skip(reason)
    return NGINX


@pytest.fixture
def served(nginx_binary: str, settings: Settings, tmp_path: Path) -> Iterator:
    """Start the service behind nginx with the given extra settings; stop both after."""
    running: list[tuple[ServerProcess, Nginx]] = []

    def start(name: str, **extra: str) -> Nginx:
        folder = tmp_path / name
        folder.mkdir()
        https_port = free_port()
        env = {
            "ESS_DATABASE_URL": settings.database_url,
            "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
            "ESS_DATA_DIR": str(tmp_path),
            # Where browsers reach the service: nginx's address.
            "ESS_BASE_URL": f"https://127.0.0.1:{https_port}",
            "ESS_SLA__CALENDAR": "24/7",
            "ESS_LOGIN_ATTEMPTS_PER_MINUTE": "3",
            "ESS_LOG_FORMAT": "json",
            **extra,
        }
        server = ServerProcess(env, folder / "server.log").start()
        proxy = Nginx(folder, server.port, https_port)
        running.append((server, proxy))
        return proxy.__enter__()

    yield start
    for server, proxy in reversed(running):
        proxy.__exit__(None, None, None)
        server.stop()


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_behind_nginx_over_https(served, ess: Ess) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER, email="proxy@cabinet-test.fr", name="Dr Proxy", password=PASSWORD
    )
    proxy = served("trusted", ESS_TRUSTED_PROXIES="127.0.0.1")
    async with proxy.client("127.0.0.2") as http:
        response = await login(http, gp.email, PASSWORD)
        assert response.status_code == 200, response.text
        assert response.http_version == "HTTP/2"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("ess_session=") and "Secure" in cookie and "HttpOnly" in cookie
        bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}

        submitted = await http.post("/api/v1/requests", json=request_payload(), headers=bearer)
        assert submitted.status_code == 201, submitted.text
        attachments = f"/api/v1/requests/{submitted.json()['id']}/attachments"
        fits = b"%PDF-1.4\n" + os.urandom(19 * MB)
        response = await http.post(
            attachments, headers=bearer, files={"file": ("examen.pdf", fits, "application/pdf")}
        )
        assert response.status_code == 201, response.text
        assert response.json()["size"] == len(fits)
        too_big = b"%PDF-1.4\n" + os.urandom(25 * MB)
        # Over HTTP/1.1: httpx's HTTP/2 client gives up on a response that comes before
        # the end of its upload (browsers read it).
        async with proxy.client("127.0.0.2", http2=False) as http1:
            response = await http1.post(
                attachments,
                headers=bearer,
                files={"file": ("gros.pdf", too_big, "application/pdf")},
            )
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (
            response.json()["detail"] == "Le contenu envoyé dépasse la taille maximale autorisée."
        )
        # The service's own answer: its log has that request, refused.
        refused = response.headers["x-request-id"]
        assert f'"request_id": "{refused}"' in (proxy.folder / "server.log").read_text()

        # Plain http is sent to https.
        plain = await httpx.AsyncClient().get(f"http://127.0.0.1:{proxy.http_port}/health")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")
        # /metrics is not served to the outside.
        assert (await http.get("/metrics")).status_code == 404

    # The service sees each client's own address: one client's guesses spend its own
    # allowance, not another's.
    async with proxy.client("127.0.0.3") as guesser, proxy.client("127.0.0.4") as other:
        statuses = [(await login(guesser, gp.email, "devine")).status_code for _ in range(4)]
        assert statuses[-1] == 429
        assert (await login(other, gp.email, PASSWORD)).status_code == 200
    log = (proxy.folder / "server.log").read_text()
    assert '"client": "127.0.0.3"' in log and '"client": "127.0.0.4"' in log


async def test_without_trusting_nginx_every_client_looks_like_nginx(served, ess: Ess) -> None:
    gp = await ess.add_user(
        role=Role.REQUESTER, email="proxy2@cabinet-test.fr", name="Dr Relais", password=PASSWORD
    )
    proxy = served("untrusted")
    async with proxy.client("127.0.0.5") as guesser, proxy.client("127.0.0.6") as other:
        statuses = [(await login(guesser, gp.email, "devine")).status_code for _ in range(4)]
        assert statuses[-1] == 429
        # Another client, seen as the same address (nginx's), is throttled with it.
        assert (await login(other, gp.email, PASSWORD)).status_code == 429
