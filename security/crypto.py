"""Envelope encryption of clinical data at rest (AES-256-GCM, versioned key-encryption keys).

Every record gets a fresh 256-bit data key (DEK). The DEK encrypts the content with
AES-256-GCM; the DEK itself is wrapped (AES-256-GCM again) by the active key-encryption
key (KEK) of the :class:`KeyRing`. Rotation adds a KEK and re-wraps DEKs: the content
ciphertext is never touched.

Integers are unsigned big-endian. Both formats start with the same 65-byte envelope::

    offset  size  field
    0       1     format: 0x01 record, 0x02 stream
    1       4     KEK version
    5       12    wrap nonce
    17      48    wrapped DEK (32-byte DEK encrypted under the KEK, then its 16-byte tag)

Record (one field of one row, see :meth:`KeyRing.encrypt`)::

    0       65    envelope
    65      12    content nonce
    77      n+16  content ciphertext, then its 16-byte tag

Stream (large attachments, see :meth:`KeyRing.encrypt_stream`); the header is a fixed
``STREAM_HEADER_SIZE`` (76) bytes, followed by the segments::

    0       65    envelope
    65      7     nonce prefix (random per stream)
    72      4     segment size S (plaintext bytes in every segment but the last)
    76      ...   segments: S+16 bytes each, the last one 16..S+16 bytes

Segment ``i`` is encrypted with the nonce ``prefix || i (4 bytes) || last (1 byte: 0x01
for the final segment, else 0x00)`` (the STREAM construction of Hoang, Reyhanitabar,
Rogaway and Vizár), so reordered, dropped, truncated or appended segments fail to decrypt.

Associated data. The wrap of the DEK authenticates bytes 0-4 (format and KEK version),
so a swapped version byte fails. The content authenticates the header bytes that a
re-wrap does not change (the format byte; for streams also the nonce prefix and segment
size) followed by the caller's ``aad``, which names where the ciphertext lives (e.g.
``b"request:<uuid>:question"``): a ciphertext copied to another row or field fails. The
KEK version and wrapped DEK are left out of the content's associated data on purpose:
they change on every re-wrap, and a forged envelope cannot yield the right DEK anyway.
"""

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "ENVELOPE_SIZE",
    "MAX_SEGMENT_SIZE",
    "RECORD_FORMAT",
    "RECORD_HEADER_SIZE",
    "STREAM_FORMAT",
    "STREAM_HEADER_SIZE",
    "TAG_SIZE",
    "DecryptionError",
    "KeyFileError",
    "KeyRing",
]

RECORD_FORMAT = 0x01
STREAM_FORMAT = 0x02
KEY_FILE_FORMAT = 1

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
_MAX_VERSION = 0xFFFF_FFFF

_ENVELOPE = struct.Struct(">BI12s48s")
ENVELOPE_SIZE = _ENVELOPE.size
# Format byte and KEK version: what the wrap of the DEK authenticates.
_WRAP_AAD_SIZE = 5
RECORD_HEADER_SIZE = ENVELOPE_SIZE + NONCE_SIZE

_STREAM_PARAMS = struct.Struct(">7sI")
STREAM_HEADER_SIZE = ENVELOPE_SIZE + _STREAM_PARAMS.size
_PREFIX_SIZE = 7
_SEGMENT_NONCE = struct.Struct(">7sIB")
DEFAULT_SEGMENT_SIZE = 64 * 1024
# Caps what a (possibly forged) header can make the decryptor buffer.
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
_MAX_SEGMENTS = 0xFFFF_FFFF + 1


class DecryptionError(Exception):
    """A ciphertext is tampered with, misplaced, malformed or under a key not held."""


class KeyFileError(Exception):
    """The key file cannot be used (the message is one line for the operator)."""


PathLike = str | os.PathLike[str]


class KeyRing:
    """Versioned key-encryption keys and the HMAC key for pseudonyms."""

    def __init__(
        self,
        keks: dict[int, bytes],
        active: int,
        hmac_key: bytes,
        retired: Iterable[int] = (),
    ) -> None:
        self._keks = dict(keks)
        self._active = active
        self._hmac_key = bytes(hmac_key)
        self._retired = set(retired)
        for version, kek in self._keks.items():
            if not 1 <= version <= _MAX_VERSION:
                raise ValueError(f"key version {version} is out of range")
            if len(kek) != KEY_SIZE:
                raise ValueError(f"key version {version} is not {KEY_SIZE} bytes")
        if active not in self._keks:
            raise ValueError(f"active key version {active} is not in the key ring")
        if self._retired & self._keks.keys():
            raise ValueError("a key version is both held and retired")
        if len(self._hmac_key) != KEY_SIZE:
            raise ValueError(f"the HMAC key is not {KEY_SIZE} bytes")

    # -- key management -------------------------------------------------------------

    @classmethod
    def generate(cls) -> "KeyRing":
        """Return a new key ring with one key-encryption key (version 1)."""
        return cls({1: secrets.token_bytes(KEY_SIZE)}, 1, secrets.token_bytes(KEY_SIZE))

    @property
    def active_version(self) -> int:
        return self._active

    @property
    def versions(self) -> tuple[int, ...]:
        """Return the versions whose key is held (retired ones excluded), ascending."""
        return tuple(sorted(self._keks))

    @property
    def retired_versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._retired))

    def add_key(self) -> int:
        """Add a key-encryption key, make it active and return its version."""
        # Retired numbers are never reused, so an old blob can never meet a new key.
        version = max(self._keks.keys() | self._retired) + 1
        if version > _MAX_VERSION:
            raise ValueError("no key version left")
        self._keks[version] = secrets.token_bytes(KEY_SIZE)
        self._active = version
        return version

    def retire(self, version: int) -> None:
        """Forget the key of ``version``; data still wrapped by it becomes unreadable."""
        if version == self._active:
            raise ValueError(f"key version {version} is active and cannot be retired")
        if version in self._retired:
            return
        if version not in self._keks:
            raise ValueError(f"key version {version} is not in the key ring")
        del self._keks[version]
        self._retired.add(version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyRing):
            return NotImplemented
        return (
            self._active == other._active
            and self._retired == other._retired
            and self._keks.keys() == other._keks.keys()
            and all(hmac.compare_digest(k, other._keks[v]) for v, k in self._keks.items())
            and hmac.compare_digest(self._hmac_key, other._hmac_key)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        # Never the key material: a repr ends up in logs and tracebacks.
        return f"KeyRing(active={self._active}, versions={list(self.versions)})"

    # -- key file ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: PathLike) -> "KeyRing":
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
            return cls._from_document(document)
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            raise KeyFileError(f"key file {path} is malformed: {_one_line(exc)}") from None

    def save(self, path: PathLike) -> None:
        """Write the key file atomically, readable by its owner only."""
        path = Path(path)
        tmp = self._write_temporary(path)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise KeyFileError(f"key file {path} cannot be written: {_reason(exc)}") from None
        _sync_directory(path.parent)

    @classmethod
    def load_or_create(cls, path: PathLike, *, create: bool) -> "KeyRing":
        """Read the key file, generating it first when missing and ``create`` (dev only)."""
        path = Path(path)
        if path.exists():
            return cls.load(path)
        if not create:
            raise KeyFileError(f"key file {path} does not exist and is only generated in dev")
        ring = cls.generate()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"key file {path} cannot be created: {_reason(exc)}") from None
        tmp = ring._write_temporary(path)
        try:
            # A hard link publishes the complete file and fails if it exists: two processes
            # starting together end up sharing one key ring instead of overwriting each
            # other's (data encrypted under the lost one would be gone for good).
            os.link(tmp, path)
        except FileExistsError:
            return cls.load(path)
        except OSError as exc:
            raise KeyFileError(f"key file {path} cannot be created: {_reason(exc)}") from None
        finally:
            tmp.unlink(missing_ok=True)
        _sync_directory(path.parent)
        return ring

    def _write_temporary(self, path: Path) -> Path:
        data = json.dumps(self._to_document(), indent=2).encode() + b"\n"
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

    def _to_document(self) -> dict[str, object]:
        return {
            "format": KEY_FILE_FORMAT,
            "active": self._active,
            "keks": {str(v): _b64(k) for v, k in sorted(self._keks.items())},
            "retired": sorted(self._retired),
            "hmac": _b64(self._hmac_key),
        }

    @classmethod
    def _from_document(cls, document: object) -> "KeyRing":
        if not isinstance(document, dict):
            raise ValueError("top level is not an object")
        if type(document.get("format")) is not int or document["format"] != KEY_FILE_FORMAT:
            raise ValueError(f"format is not {KEY_FILE_FORMAT}")
        keks = document.get("keks")
        if not isinstance(keks, dict) or not keks:
            raise ValueError("keks is missing or empty")
        active = document.get("active")
        if type(active) is not int:
            raise ValueError("active is not an integer")
        retired = document.get("retired", [])
        if not isinstance(retired, list) or any(type(v) is not int for v in retired):
            raise ValueError("retired is not a list of integers")
        hmac_text = document.get("hmac")
        if not isinstance(hmac_text, str):
            raise ValueError("hmac is missing")
        parsed: dict[int, bytes] = {}
        for name, value in keks.items():
            if not (name.isascii() and name.isdigit()) or str(int(name)) != name:
                raise ValueError(f"key version {name!r} is not a number")
            if not isinstance(value, str):
                raise ValueError(f"key version {name} is not a base64 string")
            parsed[int(name)] = _unb64(value)
        return cls(parsed, active, _unb64(hmac_text), retired)

    # -- records ----------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """Encrypt one value under a fresh data key, bound to ``aad`` (its row and field)."""
        _check_aad(aad)
        dek = AESGCM.generate_key(bit_length=256)
        envelope = self._wrap(RECORD_FORMAT, dek)
        nonce = os.urandom(NONCE_SIZE)
        sealed = AESGCM(dek).encrypt(nonce, plaintext, _record_aad(aad))
        return envelope + nonce + sealed

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        """Return the plaintext of ``blob``, or raise DecryptionError."""
        _check_aad(aad)
        blob = bytes(blob)
        if len(blob) < RECORD_HEADER_SIZE + TAG_SIZE:
            raise DecryptionError("ciphertext is too short to be a record")
        _expect_format(blob, RECORD_FORMAT)
        dek = self._unwrap(blob[:ENVELOPE_SIZE])
        nonce = blob[ENVELOPE_SIZE:RECORD_HEADER_SIZE]
        try:
            return AESGCM(dek).decrypt(nonce, blob[RECORD_HEADER_SIZE:], _record_aad(aad))
        except InvalidTag:
            raise DecryptionError(
                "record failed authentication (tampered, or associated data differs)"
            ) from None

    def encrypt_text(self, text: str, *, aad: str) -> bytes:
        """Encrypt UTF-8 text, bound to ``aad``."""
        return self.encrypt(text.encode("utf-8"), aad=aad.encode("utf-8"))

    def decrypt_text(self, blob: bytes, *, aad: str) -> str:
        """Return the text of ``blob``, or raise DecryptionError."""
        plaintext = self.decrypt(blob, aad=aad.encode("utf-8"))
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            # Not chained: UnicodeDecodeError quotes the offending plaintext bytes.
            raise DecryptionError("plaintext is not UTF-8 text") from None

    def needs_rewrap(self, blob: bytes) -> bool:
        """Return whether a record, stream or stream header is wrapped by a non-active key."""
        return self._envelope_version(blob) != self._active

    def rewrap(self, blob: bytes) -> bytes:
        """Return ``blob`` (record or whole stream) with its data key under the active key."""
        blob = bytes(blob)
        if self._envelope_version(blob) == self._active:
            return blob
        if blob[0] == RECORD_FORMAT:
            if len(blob) < RECORD_HEADER_SIZE + TAG_SIZE:
                raise DecryptionError("ciphertext is too short to be a record")
            return self._rewrap_envelope(blob[:ENVELOPE_SIZE]) + blob[ENVELOPE_SIZE:]
        return self.rewrap_stream_header(blob[:STREAM_HEADER_SIZE]) + blob[STREAM_HEADER_SIZE:]

    # -- streams ----------------------------------------------------------------------

    def encrypt_stream(
        self,
        chunks: Iterable[bytes],
        *,
        aad: bytes,
        chunk_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> Iterator[bytes]:
        """Yield the stream header, then one encrypted segment per ``chunk_size`` bytes."""
        # Checked here, not in the generator, so a bad call fails where it is made.
        _check_aad(aad)
        if not 1 <= chunk_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_SEGMENT_SIZE}")
        dek = AESGCM.generate_key(bit_length=256)
        prefix = os.urandom(_PREFIX_SIZE)
        params = _STREAM_PARAMS.pack(prefix, chunk_size)
        header = self._wrap(STREAM_FORMAT, dek) + params
        return _seal_segments(
            header, AESGCM(dek), prefix, _stream_aad(params, aad), chunks, chunk_size
        )

    def decrypt_stream(self, pieces: Iterable[bytes] | bytes, *, aad: bytes) -> Iterator[bytes]:
        """Yield the plaintext of a stream given in pieces of any size.

        Memory stays within one segment plus one input piece. Each segment is
        authenticated before it is yielded, but a truncated stream is only detected at its
        end: discard what was yielded if DecryptionError is raised.
        """
        _check_aad(aad)
        if isinstance(pieces, bytes | bytearray | memoryview):
            pieces = (pieces,)
        return self._open_segments(iter(pieces), aad)

    def _open_segments(self, source: Iterator[bytes], aad: bytes) -> Iterator[bytes]:
        head = bytearray()
        for piece in source:
            head += piece
            if len(head) >= STREAM_HEADER_SIZE:
                break
        if len(head) < STREAM_HEADER_SIZE:
            raise DecryptionError("stream is shorter than its header")
        _expect_format(head, STREAM_FORMAT)
        params = bytes(head[ENVELOPE_SIZE:STREAM_HEADER_SIZE])
        prefix, segment_size = _STREAM_PARAMS.unpack(params)
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise DecryptionError("stream header declares an invalid segment size")
        aead = AESGCM(self._unwrap(bytes(head[:ENVELOPE_SIZE])))
        segment_aad = _stream_aad(params, aad)
        sealed_pieces = itertools.chain((bytes(head[STREAM_HEADER_SIZE:]),), source)
        del head  # may hold a whole blob given in one piece
        for index, (segment, last) in enumerate(_cut(sealed_pieces, segment_size + TAG_SIZE)):
            if index >= _MAX_SEGMENTS:
                raise DecryptionError("stream has more segments than its counter allows")
            if len(segment) < TAG_SIZE:
                raise DecryptionError(f"stream is truncated in segment {index}")
            nonce = _SEGMENT_NONCE.pack(prefix, index, last)
            try:
                plaintext = aead.decrypt(nonce, segment, segment_aad)
            except InvalidTag:
                raise DecryptionError(
                    f"stream segment {index} failed authentication (tampered, reordered, "
                    "truncated, extended, or associated data differs)"
                ) from None
            yield plaintext

    def rewrap_stream_header(self, header: bytes) -> bytes:
        """Return the stream ``header`` with its data key under the active key."""
        header = bytes(header)
        if len(header) != STREAM_HEADER_SIZE:
            raise DecryptionError(f"a stream header is {STREAM_HEADER_SIZE} bytes")
        _expect_format(header, STREAM_FORMAT)
        if self._envelope_version(header) == self._active:
            return header
        return self._rewrap_envelope(header[:ENVELOPE_SIZE]) + header[ENVELOPE_SIZE:]

    # -- pseudonyms -------------------------------------------------------------------

    def pseudonym(self, value: str) -> str:
        """Return the keyed HMAC-SHA256 (hex) of ``value``: stable, unlinkable without the key."""
        # The HMAC key is not rotated with the KEKs: pseudonyms must stay comparable.
        return hmac.new(self._hmac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- envelope ---------------------------------------------------------------------

    # AES-GCM rather than RFC 3394 key wrap (keywrap.aes_key_wrap): GCM authenticates
    # associated data, which binds the format and KEK version to the wrapped key; key wrap
    # has no such input. Random 96-bit wrap nonces stay far below the 2**32 wraps per KEK
    # that NIST SP 800-38D allows, given one wrap per stored field and rotation.
    def _wrap(self, fmt: int, dek: bytes) -> bytes:
        version = self._active
        wrap_aad = struct.pack(">BI", fmt, version)
        nonce = os.urandom(NONCE_SIZE)
        wrapped = AESGCM(self._keks[version]).encrypt(nonce, dek, wrap_aad)
        return _ENVELOPE.pack(fmt, version, nonce, wrapped)

    def _unwrap(self, envelope: bytes) -> bytes:
        _, version, nonce, wrapped = _ENVELOPE.unpack(envelope)
        kek = self._keks.get(version)
        if kek is None:
            if version in self._retired:
                raise DecryptionError(
                    f"data key is wrapped by key version {version}, which is retired"
                )
            raise DecryptionError(
                f"data key is wrapped by key version {version}, which the key ring lacks"
            )
        try:
            return AESGCM(kek).decrypt(nonce, wrapped, envelope[:_WRAP_AAD_SIZE])
        except InvalidTag:
            raise DecryptionError(
                f"data key failed authentication under key version {version}"
            ) from None

    def _rewrap_envelope(self, envelope: bytes) -> bytes:
        return self._wrap(envelope[0], self._unwrap(envelope))

    @staticmethod
    def _envelope_version(blob: bytes) -> int:
        if len(blob) < ENVELOPE_SIZE:
            raise DecryptionError("ciphertext is shorter than its key envelope")
        if blob[0] not in (RECORD_FORMAT, STREAM_FORMAT):
            raise DecryptionError(f"unknown ciphertext format 0x{blob[0]:02x}")
        if blob[0] == STREAM_FORMAT and len(blob) < STREAM_HEADER_SIZE:
            raise DecryptionError("stream is shorter than its header")
        return _ENVELOPE.unpack_from(blob)[1]


def _seal_segments(
    header: bytes,
    aead: AESGCM,
    prefix: bytes,
    segment_aad: bytes,
    chunks: Iterable[bytes],
    chunk_size: int,
) -> Iterator[bytes]:
    yield header
    for index, (segment, last) in enumerate(_cut(chunks, chunk_size)):
        if index >= _MAX_SEGMENTS:
            raise ValueError("stream is too long for its segment counter")
        yield aead.encrypt(_SEGMENT_NONCE.pack(prefix, index, last), segment, segment_aad)


def _cut(pieces: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Re-cut ``pieces`` into ``size``-byte segments, flagging the final (maybe short) one."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        start = 0
        # Strictly more than one segment: the final segment must stay in the buffer
        # until the input ends, since only then is it known to be the last one.
        while len(buffer) - start > size:
            yield bytes(buffer[start : start + size]), False
            start += size
        # One deletion per piece keeps the work linear in the input, whatever the pieces.
        del buffer[:start]
    yield bytes(buffer), True


def _check_aad(aad: bytes) -> None:
    if not isinstance(aad, bytes | bytearray | memoryview):
        raise TypeError("aad must be bytes")
    if not aad:
        # Empty associated data would let a ciphertext move between rows unnoticed.
        raise ValueError("aad must name where the ciphertext is stored")


def _record_aad(aad: bytes) -> bytes:
    return bytes([RECORD_FORMAT]) + bytes(aad)


def _stream_aad(params: bytes, aad: bytes) -> bytes:
    return bytes([STREAM_FORMAT]) + params + bytes(aad)


def _expect_format(blob: bytes | bytearray, fmt: int) -> None:
    if blob[0] != fmt:
        names = {RECORD_FORMAT: "a record", STREAM_FORMAT: "a stream"}
        actual = names.get(blob[0], f"of unknown format 0x{blob[0]:02x}")
        raise DecryptionError(f"ciphertext is {actual}, expected {names[fmt]}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


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
