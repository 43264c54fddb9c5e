"""The pages' own files (CSS, JavaScript), served under names that change with their content.

Every file under ``static/`` is published as ``/static/<stem>.<hash><suffix>`` (the first
twelve hex digits of its SHA-256): a browser may keep it for a year, and a new version
is a new name. Vendored files keep their version in their name too
(``vendor/htmx-2.0.11.min.js``); ``scripts/vendor_assets.py`` fetches and checks them.
"""

import hashlib
import mimetypes
from functools import cache
from pathlib import Path, PurePosixPath

from litestar import Response, get
from litestar.params import FromPath

from app.errors import problem

STATIC_DIR = Path(__file__).parent / "static"
CACHE_FOREVER = "public, max-age=31536000, immutable"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def _published(path: Path) -> str:
    relative = PurePosixPath(path.relative_to(STATIC_DIR).as_posix())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return str(relative.with_name(f"{relative.stem}.{digest}{relative.suffix}"))


@cache
def manifest() -> dict[str, tuple[str, Path]]:
    """Map each file's name (``app.css``) to its published name and its path."""
    return {
        path.relative_to(STATIC_DIR).as_posix(): (_published(path), path)
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.is_file() and path.suffix in TYPES
    }


@cache
def _by_published() -> dict[str, tuple[Path, bytes]]:
    return {published: (path, path.read_bytes()) for published, path in manifest().values()}


def asset_url(name: str) -> str:
    """The URL of a static file by its name under ``static/`` (``vendor/pico-2.1.1.min.css``)."""
    return "/static/" + manifest()[name][0]


@get(
    "/static/{name:path}",
    exclude_from_auth=True,
    exclude_from_csrf=True,
    include_in_schema=False,
    sync_to_thread=False,
)
def static_file(name: FromPath[str]) -> Response[bytes]:
    """Serve a published static file, cacheable for a year (its name changes with it)."""
    found = _by_published().get(name.lstrip("/"))
    if found is None:
        raise problem(404, "Fichier introuvable.")
    path, content = found
    media_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    return Response(
        content,
        media_type=media_type or "application/octet-stream",
        headers={"Cache-Control": CACHE_FOREVER},
    )
