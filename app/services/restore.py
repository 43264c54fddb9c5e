"""``ess-router restore``: put a backup back into an empty installation.

Every file is checked against the manifest's SHA-256 before anything is written, and
every target is checked empty (the database, the attachments folder): a restore never
mixes a backup with live data. The key file comes from the backup when it holds one,
else it must already be where ``ESS_DATA_KEY_FILE`` says (kept apart, as advised).
"""

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.services.backup import (
    ATTACHMENTS,
    CHECKPOINT,
    FORMAT,
    KEY_FILE,
    MANIFEST,
    BackupError,
    copy_private,
    libpq_arguments,
    postgres_tool,
    run_tool,
    sha256_of,
    sqlite_path,
)
from config.settings import Settings
from models.storage.database import ENGINE_OPTIONS
from security import keyfile
from security.audit_anchor import checkpoint_path
from security.files import FOLDER_MODE, private_folder

REPLACED_CHECKPOINT_SUFFIX = ".before-restore"


@dataclass
class RestoreReport:
    database: str
    revision: str | None
    attachments: int
    key_file: Path
    keys_from_backup: bool
    missing_key_versions: list[int] = field(default_factory=list)
    replaced_checkpoint: Path | None = None


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{folder} n'est pas une sauvegarde complète : {MANIFEST} est absent "
            "(sauvegarde interrompue, ou mauvais dossier)"
        )
    try:
        manifest = json.loads(path.read_text())
        if manifest["format"] != FORMAT:
            raise ValueError("format")
        manifest["files"], manifest["database"]["kind"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path} est illisible ou d'un format inconnu") from None
    return manifest  # type: ignore[no-any-return]


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file of the manifest is there, intact, and that nothing was added."""
    listed = manifest["files"]
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise BackupError(f"sauvegarde incomplète : {name} manque")
        if sha256_of(path) != expected["sha256"]:
            raise BackupError(f"sauvegarde altérée : empreinte SHA-256 de {name} différente")
    extra = [
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and path.name != MANIFEST and str(path.relative_to(folder)) not in listed
    ]
    if extra:
        raise BackupError(f"sauvegarde altérée : {sorted(extra)[0]} n'est pas dans le manifeste")


async def _postgres_tables(url: str) -> int:
    engine = create_async_engine(url, **ENGINE_OPTIONS)
    try:
        async with engine.connect() as connection:
            return (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()


def check_targets(settings: Settings, manifest: dict[str, Any]) -> None:
    kind = manifest["database"]["kind"]
    here = "sqlite" if settings.is_sqlite else "postgresql"
    if kind != here:
        raise BackupError(
            f"cette sauvegarde vient d'une base {kind} et ESS_DATABASE_URL désigne une base "
            f"{here} : restaurez dans une base du même type"
        )
    if settings.is_sqlite:
        database = sqlite_path(settings)
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists() and path.stat().st_size > 0:
                raise BackupError(
                    f"la base {database} existe déjà : la restauration va dans une "
                    "installation vide (déplacez-la, ou choisissez un autre ESS_DATABASE_URL)"
                )
    else:
        try:
            tables = asyncio.run(_postgres_tables(settings.database_url))
        except Exception as exc:
            raise BackupError(
                f"base PostgreSQL injoignable ({type(exc).__name__}) : créez-la vide "
                "(createdb) et vérifiez ESS_DATABASE_URL"
            ) from None
        if tables:
            raise BackupError(
                "la base PostgreSQL de ESS_DATABASE_URL n'est pas vide : la restauration va "
                "dans une base neuve (createdb)"
            )
    attachments = settings.attachments_dir()
    if attachments.is_dir() and any(attachments.iterdir()):
        raise BackupError(f"le dossier {attachments} n'est pas vide : la restauration l'écraserait")
    key_path = settings.key_file_path()
    in_backup = manifest["key_file"].get("included", False)
    if in_backup and key_path.exists() and sha256_of(key_path) != manifest["key_file"]["sha256"]:
        raise BackupError(
            f"un autre fichier de clés existe déjà à {key_path} : il n'est jamais écrasé"
        )
    if not in_backup and not key_path.is_file():
        raise BackupError(
            f"la sauvegarde ne contient pas le fichier de clés (gardé à part, autrefois à "
            f"{manifest['key_file'].get('kept_at')}) : placez-le à {key_path} "
            "(ESS_DATA_KEY_FILE), puis relancez la restauration"
        )


def restore_database(settings: Settings, folder: Path, manifest: dict[str, Any]) -> None:
    source = folder / manifest["database"]["file"]
    if settings.is_sqlite:
        target = sqlite_path(settings)
        target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".restoring")
        partial.unlink(missing_ok=True)
        copy_private(source, partial)
        for companion in ("-wal", "-shm"):
            target.with_name(target.name + companion).unlink(missing_ok=True)
        os.replace(partial, target)
        return
    arguments, environment = libpq_arguments(settings.database_url)
    command = [postgres_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    # One transaction: a failed restore leaves the base as empty as it was.
    run_tool([*command, "--single-transaction", *arguments, str(source)], environment, "pg_restore")


def restore(settings: Settings, folder: Path) -> RestoreReport:
    """Check the backup in ``folder`` and put it back where the settings point."""
    manifest = read_manifest(folder)
    verify(folder, manifest)
    check_targets(settings, manifest)
    restore_database(settings, folder, manifest)
    attachments = private_folder(settings.attachments_dir())
    count = 0
    for path in sorted((folder / ATTACHMENTS).glob("*.enc")):
        copy_private(path, attachments / path.name)
        count += 1
    key_path = settings.key_file_path()
    keys_from_backup = bool(manifest["key_file"].get("included")) and not key_path.exists()
    if keys_from_backup:
        copy_private(folder / KEY_FILE, key_path)
    ring = keyfile.load(key_path)
    missing = sorted(set(manifest["key_file"].get("versions", [])) - set(ring.versions))
    replaced = None
    checkpoint = checkpoint_path(key_path)
    if (folder / CHECKPOINT).is_file():
        # The checkpoint of the live chain names entries this older copy lacks: keep it
        # aside as evidence, anchor the restored chain on the backup's own.
        if checkpoint.exists():
            replaced = checkpoint.with_name(checkpoint.name + REPLACED_CHECKPOINT_SUFFIX)
            os.replace(checkpoint, replaced)
        copy_private(folder / CHECKPOINT, checkpoint)
    return RestoreReport(
        database=manifest["database"]["kind"],
        revision=manifest["database"].get("revision"),
        attachments=count,
        key_file=key_path,
        keys_from_backup=keys_from_backup,
        missing_key_versions=missing,
        replaced_checkpoint=replaced,
    )
