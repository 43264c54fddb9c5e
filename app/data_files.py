"""The service's files on disk: private, and tidied when a server starts."""

import logging
from pathlib import Path

from sqlalchemy import make_url

from config.settings import Settings
from security.files import make_private, private_folder, remove_abandoned

logger = logging.getLogger("ess_router")

SECRET_FILE = "ess-router.secret"


def database_files(settings: Settings) -> list[Path]:
    """The SQLite database and its companions (none on PostgreSQL)."""
    if not settings.is_sqlite:
        return []
    name = make_url(settings.database_url).database
    if not name or name == ":memory:":
        return []
    path = Path(name)
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def prepare(settings: Settings) -> None:
    """Make what the service wrote before private, and remove what a killed writer left."""
    attachments = private_folder(settings.attachments_dir())
    changed = make_private(
        [*database_files(settings), settings.key_file_path(), settings.data_dir / SECRET_FILE]
    )
    if changed:
        logger.warning("made private (mode 0600): %s", ", ".join(str(p) for p in changed))
    # A kill -9 during an upload or a rotation leaves its partial file behind.
    remove_abandoned(attachments, "*.part")
    remove_abandoned(attachments, "*.rewrap")
