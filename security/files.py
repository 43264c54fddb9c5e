"""What the service writes is for its own user only: files 0600, folders 0700.

The umask covers whatever a library creates (SQLite's database, WAL and shared-memory
files); explicit modes cover what this code creates, whatever the umask. Partial
files are written under an exclusive ``flock``, so that a process starting later can
tell an abandoned one (its writer was killed: the lock went with it) from one still
being written by another process, and delete only the former.
"""

import fcntl
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger("ess_router.security")

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def use_private_umask() -> None:
    """From now on, files and folders this process creates are its user's only."""
    os.umask(PRIVATE_UMASK)


def private_folder(path: Path) -> Path:
    """Create ``path`` (0700) if missing, and take group and others' access away."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    make_private([path])
    return path


def make_private(paths: Iterable[Path]) -> list[Path]:
    """Take group and others' access away from the existing ``paths``; return those changed."""
    changed = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            path.chmod(FOLDER_MODE if stat.S_ISDIR(mode) else FILE_MODE)
            changed.append(path)
    return changed


@contextmanager
def partial_file(path: Path) -> Iterator[BinaryIO]:
    """Open a new private file for writing, locked while it is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        raise
    # Closing the file releases the lock.
    with os.fdopen(fd, "wb") as handle:
        yield handle


def remove_abandoned(directory: Path, pattern: str) -> int:
    """Delete the files matching ``pattern`` that no live process is writing; return how many."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.glob(pattern):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # finished (renamed) or removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # another process is writing it
        try:
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    if removed:
        logger.warning("removed %d abandoned partial file(s) from %s", removed, directory)
    return removed
