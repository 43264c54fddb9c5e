"""The key file: the key ring's JSON document on disk, readable by its owner only."""

import binascii
import json
import os
import secrets
from pathlib import Path

from security.crypto import KeyRing

__all__ = ["KeyFileError", "load", "load_or_create", "save"]

PathLike = str | os.PathLike[str]


class KeyFileError(Exception):
    """The key file cannot be used (the message is one line for the operator)."""


def load(path: PathLike) -> KeyRing:
    """Read a key ring from its JSON key file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be read: {_reason(exc)}") from None
    # "from None" throughout: a chained JSON or base64 error could carry key material.
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"key file {path} is not valid JSON") from None
    try:
        return KeyRing.from_document(document)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise KeyFileError(f"key file {path} is malformed: {_one_line(exc)}") from None


def save(ring: KeyRing, path: PathLike) -> None:
    """Write the key file atomically, readable by its owner only."""
    path = Path(path)
    tmp = _write_temporary(ring, path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"key file {path} cannot be written: {_reason(exc)}") from None
    _sync_directory(path.parent)


def load_or_create(path: PathLike, *, create: bool) -> KeyRing:
    """Read the key file, generating it first when missing and ``create`` (dev only)."""
    path = Path(path)
    if path.exists():
        return load(path)
    if not create:
        raise KeyFileError(f"key file {path} does not exist and is only generated in dev")
    ring = KeyRing.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be created: {_reason(exc)}") from None
    tmp = _write_temporary(ring, path)
    try:
        # A hard link publishes the complete file and fails if it exists: two processes
        # starting together end up sharing one key ring instead of overwriting each
        # other's (data encrypted under the lost one would be gone for good).
        os.link(tmp, path)
    except FileExistsError:
        return load(path)
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be created: {_reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    _sync_directory(path.parent)
    return ring


def _write_temporary(ring: KeyRing, path: Path) -> Path:
    data = json.dumps(ring.to_document(), indent=2).encode() + b"\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be written: {_reason(exc)}") from None
    try:
        # The umask can only remove bits; make it exactly 0600 whatever it is.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"key file {path} cannot be written: {_reason(exc)}") from None
    return tmp


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
