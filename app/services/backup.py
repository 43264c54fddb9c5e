"""``ess-router backup``: a consistent copy of an installation, taken while it runs.

What goes in, in this order (the order is what makes the copy consistent):

1. the audit checkpoint (beside the key file), before the database: the copied chain
   then always reaches it, and ``audit verify`` passes on the restored copy;
2. the database: SQLite's online backup API (one read transaction, writers carry on),
   or ``pg_dump`` (one snapshot) on PostgreSQL;
3. the attachments: a file is written (and renamed into place) before its row is
   committed, and never deleted, so every row of the copied database finds its file;
4. the key file only when asked (``--include-keys``): otherwise the manifest says where
   it is kept and which keys it held, so that database and keys can be stored apart;
5. the settings without secrets, then the manifest with each file's SHA-256, written
   last: a folder without a manifest is an unfinished backup.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from config.settings import Settings
from security import keyfile
from security.audit_anchor import checkpoint_path
from security.files import FILE_MODE, FOLDER_MODE

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_COPY = "database.sqlite3"
POSTGRES_DUMP = "database.pgdump"
ATTACHMENTS = "attachments"
KEY_FILE = "keys/ess-router.keys"
CHECKPOINT = "keys/ess-router.keys.audit-head"
SETTINGS = "settings.json"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or the restore cannot go on (one French line for the operator)."""


@dataclass
class BackupReport:
    folder: Path
    database: str
    attachments: int
    keys_included: bool
    key_file: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def software_version() -> str:
    try:
        return version("ess-router")
    except PackageNotFoundError:
        return "inconnue"


def sqlite_path(settings: Settings) -> Path:
    name = make_url(settings.database_url).database
    if not name or name == ":memory:":
        raise BackupError("une base SQLite en mémoire ne se sauvegarde pas")
    return Path(name)


def libpq_arguments(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump / pg_restore, the password in the environment only."""
    parsed = make_url(url)
    arguments = []
    if parsed.host:
        arguments += ["--host", parsed.host]
    if parsed.port:
        arguments += ["--port", str(parsed.port)]
    if parsed.username:
        arguments += ["--username", parsed.username]
    arguments += ["--dbname", parsed.database or ""]
    environment = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    return arguments, environment


def postgres_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``, or a French explanation of what to install."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} est introuvable : installez le client PostgreSQL (paquet Debian "
            f"« postgresql-client », de la version du serveur ou plus récente) pour "
            "sauvegarder ou restaurer une base PostgreSQL"
        )
    return path


def run_tool(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"code de sortie {result.returncode}"
        raise BackupError(f"{what} a échoué : {reason}")


def prepare_folder(folder: Path) -> None:
    """Create the backup folder (0700); refuse one that already holds something."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(
            f"le dossier {folder} n'est pas vide : une sauvegarde va dans un dossier neuf"
        )
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    folder.chmod(FOLDER_MODE)


def copy_private(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (0600, flushed to disk)."""
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
        shutil.copyfileobj(reader, writer, CHUNK)
        writer.flush()
        os.fsync(writer.fileno())


def copy_sqlite(source: Path, target: Path) -> str | None:
    """Copy a live SQLite database with its online backup API; return its migration."""
    if not source.is_file():
        raise BackupError(f"la base SQLite {source} n'existe pas")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)
    live = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step: the whole copy under one read transaction, a single moment of the base.
        live.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"la copie de {source} est endommagée")
        row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"copie de la base SQLite impossible : {exc}") from None
    finally:
        copy.close()
        live.close()
    return row[0] if row else None


def dump_postgres(url: str, target: Path) -> None:
    arguments, environment = libpq_arguments(url)
    command = [postgres_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
    run_tool([*command, "--file", str(target), *arguments], environment, "pg_dump")
    target.chmod(FILE_MODE)


def dump_revision(dump: Path) -> str | None:
    """The migration a PostgreSQL dump is at, read from the dump itself."""
    command = [postgres_tool("pg_restore"), "--data-only", "--table=alembic_version", "-f", "-"]
    result = subprocess.run(
        [*command, str(dump)], capture_output=True, text=True, check=False, timeout=60
    )
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line:
            return lines[index + 1].strip() if lines[index + 1].strip() != "\\." else None
    return None


def copy_attachments(source: Path, target: Path) -> int:
    """Copy the finished encrypted files (never a ``.part`` or ``.rewrap`` being written)."""
    count = 0
    if not source.is_dir():
        return 0
    target.mkdir(mode=FOLDER_MODE, exist_ok=True)
    for path in sorted(source.glob("*.enc")):
        try:
            copy_private(path, target / path.name)
        except FileNotFoundError:
            continue
        count += 1
    return count


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, without the signing secret nor any password."""
    document = settings.model_dump(mode="json", exclude={"secret_key": True, "smtp": {"password"}})
    document["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    return document


def back_up(settings: Settings, folder: Path, *, include_keys: bool, now: datetime) -> BackupReport:
    """Copy the installation into ``folder`` (new or empty); return what was copied."""
    prepare_folder(folder)
    key_path = settings.key_file_path()
    ring = keyfile.load(key_path)
    checkpoint = checkpoint_path(key_path)
    if checkpoint.is_file():
        copy_private(checkpoint, folder / CHECKPOINT)
    if settings.is_sqlite:
        database, kind = SQLITE_COPY, "sqlite"
        revision = copy_sqlite(sqlite_path(settings), folder / SQLITE_COPY)
    else:
        database, kind = POSTGRES_DUMP, "postgresql"
        dump_postgres(settings.database_url, folder / POSTGRES_DUMP)
        revision = dump_revision(folder / POSTGRES_DUMP)
    attachments = copy_attachments(settings.attachments_dir(), folder / ATTACHMENTS)
    if include_keys:
        copy_private(key_path, folder / KEY_FILE)
    (folder / SETTINGS).write_text(json.dumps(public_settings(settings), indent=2) + "\n")
    files = {
        str(path.relative_to(folder)): {"sha256": sha256_of(path), "size": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "software_version": software_version(),
        "database": {"kind": kind, "file": database, "revision": revision},
        "attachments": attachments,
        "key_file": {
            "included": include_keys,
            "kept_at": str(key_path.resolve()),
            "sha256": sha256_of(key_path),
            "versions": list(ring.versions),
            "active_version": ring.active_version,
        },
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupReport(
        folder=folder,
        database=kind,
        attachments=attachments,
        keys_included=include_keys,
        key_file=key_path,
        files=files,
    )
