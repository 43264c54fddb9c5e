"""The key file: the key ring's JSON document on disk, readable by its owner only."""

import binascii
import json
import logging
import os
import secrets
from pathlib import Path

from security.crypto import KeyRing

__all__ = ["KeyFile", "KeyFileError", "create", "load", "load_or_create", "save"]

logger = logging.getLogger("ess_router.security")

PathLike = str | os.PathLike[str]


class KeyFileError(Exception):
    """The key file cannot be used (the message is one line for the operator)."""


def load(path: PathLike) -> KeyRing:
    """Read a key ring from its JSON key file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as exc:
        raise KeyFileError(f"le fichier de clés {path} est illisible : {_reason(exc)}") from None
    # "from None" throughout: a chained JSON or base64 error could carry key material.
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"le fichier de clés {path} n'est pas du JSON valide") from None
    try:
        return KeyRing.from_document(document)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise KeyFileError(f"le fichier de clés {path} est mal formé : {_one_line(exc)}") from None


def save(ring: KeyRing, path: PathLike) -> None:
    """Write the key file atomically, readable by its owner only."""
    path = Path(path)
    tmp = _write_temporary(ring, path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from None
    _sync_directory(path.parent)


def create(path: PathLike) -> KeyRing:
    """Generate a key ring into a new key file (mode 0600); never overwrite an existing one."""
    path = Path(path)
    ring = KeyRing.generate()
    if not _publish(ring, path):
        raise KeyFileError(f"le fichier de clés {path} existe déjà : il n'est jamais écrasé")
    return ring


def load_or_create(path: PathLike, *, create: bool) -> KeyRing:
    """Read the key file, generating it first when missing and ``create`` (dev only)."""
    path = Path(path)
    if path.exists():
        return load(path)
    if not create:
        raise _missing(path)
    ring = KeyRing.generate()
    # Two processes starting together end up sharing one key ring instead of
    # overwriting each other's (data encrypted under the lost one would be gone for good).
    return ring if _publish(ring, path) else load(path)


class KeyFile:
    """A key file's key ring, read again whenever the file is replaced.

    ``keys rotate`` and ``keys retire`` replace the file (atomically, so with a new
    inode); a running server sees it at its next use of the keys and takes it up
    without a restart. A replacement that cannot be read is logged and the keys in
    memory stay in use.
    """

    def __init__(self, path: PathLike, *, create: bool = False) -> None:
        self.path = Path(path)
        self._stamp = _stamp(self.path)
        self._ring = load_or_create(self.path, create=create)
        self._refused: tuple[int, ...] | None = None

    @property
    def ring(self) -> KeyRing:
        """Return the key ring as the file holds it now (one ``stat`` per call)."""
        stamp = _stamp(self.path)
        if stamp != self._stamp and stamp != self._refused:
            self._reload(stamp)
        return self._ring

    def _reload(self, stamp: tuple[int, ...] | None) -> None:
        try:
            ring = load(self.path)
        except KeyFileError as exc:
            # Once per bad version of the file, not at every use.
            self._refused = stamp
            logger.error("key file not taken up, the keys in memory stay in use: %s", exc)
            return
        self._ring, self._stamp = ring, stamp
        logger.info(
            "key file taken up: active key version %d, versions %s",
            ring.active_version,
            list(ring.versions),
        )


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


def _publish(ring: KeyRing, path: Path) -> bool:
    """Write ``ring`` to ``path`` unless a file is there already; return whether it was."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    tmp = _write_temporary(ring, path)
    try:
        # A hard link publishes the complete file and fails if one exists.
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise _unwritable(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    _sync_directory(path.parent)
    return True


def _write_temporary(ring: KeyRing, path: Path) -> Path:
    data = json.dumps(ring.to_document(), indent=2).encode() + b"\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        # The umask can only remove bits; make it exactly 0600 whatever it is.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from None
    return tmp


def _missing(path: Path) -> KeyFileError:
    return KeyFileError(
        f"le fichier de clés {path} n'existe pas : créez-le avec ess-router keys init"
    )


def _unwritable(path: Path, exc: OSError) -> KeyFileError:
    return KeyFileError(f"le fichier de clés {path} ne peut pas être écrit : {_reason(exc)}")


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _sync_directory(directory: Path) -> None:
    # Makes the rename durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
