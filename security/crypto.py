"""Envelope encryption of clinical data at rest (AES-256-GCM, versioned key-encryption keys).

Every record gets a fresh 256-bit data key (DEK). The DEK encrypts the content with
AES-256-GCM; the DEK itself is wrapped (AES-256-GCM again) by the active key-encryption
key (KEK) of the :class:`KeyRing`. Rotation adds a KEK and re-wraps DEKs: the content
ciphertext is never touched. The byte layouts are in :mod:`security.envelope`; the key
file in :mod:`security.keyfile`.
"""

import base64
import hashlib
import hmac
import itertools
import os
import secrets
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from security.envelope import (
    DEFAULT_SEGMENT_SIZE,
    ENVELOPE,
    ENVELOPE_SIZE,
    KEY_SIZE,
    MAX_SEGMENT_SIZE,
    MAX_SEGMENTS,
    NONCE_SIZE,
    PREFIX_SIZE,
    RECORD_FORMAT,
    RECORD_HEADER_SIZE,
    SEGMENT_NONCE,
    STREAM_FORMAT,
    STREAM_HEADER_SIZE,
    STREAM_PARAMS,
    TAG_SIZE,
    WRAP_AAD_SIZE,
    DecryptionError,
    check_aad,
    cut,
    expect_format,
    record_aad,
    seal_segments,
    stream_aad,
)

__all__ = ["KeyRing"]

KEY_FILE_FORMAT = 1
_MAX_VERSION = 0xFFFF_FFFF


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

    # -- key file document ------------------------------------------------------------

    def to_document(self) -> dict[str, object]:
        """Return the key file's JSON document (key material included)."""
        return {
            "format": KEY_FILE_FORMAT,
            "active": self._active,
            "keks": {str(v): _b64(k) for v, k in sorted(self._keks.items())},
            "retired": sorted(self._retired),
            "hmac": _b64(self._hmac_key),
        }

    @classmethod
    def from_document(cls, document: object) -> "KeyRing":
        """Return the key ring of a key file's JSON document, or raise ValueError."""
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
        check_aad(aad)
        dek = AESGCM.generate_key(bit_length=256)
        envelope = self._wrap(RECORD_FORMAT, dek)
        nonce = os.urandom(NONCE_SIZE)
        sealed = AESGCM(dek).encrypt(nonce, plaintext, record_aad(aad))
        return envelope + nonce + sealed

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        """Return the plaintext of ``blob``, or raise DecryptionError."""
        check_aad(aad)
        blob = bytes(blob)
        if len(blob) < RECORD_HEADER_SIZE + TAG_SIZE:
            raise DecryptionError("ciphertext is too short to be a record")
        expect_format(blob, RECORD_FORMAT)
        dek = self._unwrap(blob[:ENVELOPE_SIZE])
        nonce = blob[ENVELOPE_SIZE:RECORD_HEADER_SIZE]
        try:
            return AESGCM(dek).decrypt(nonce, blob[RECORD_HEADER_SIZE:], record_aad(aad))
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
        return self.wrapped_by(blob) != self._active

    def rewrap(self, blob: bytes) -> bytes:
        """Return ``blob`` (record or whole stream) with its data key under the active key."""
        blob = bytes(blob)
        if self.wrapped_by(blob) == self._active:
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
        check_aad(aad)
        if not 1 <= chunk_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_SEGMENT_SIZE}")
        dek = AESGCM.generate_key(bit_length=256)
        prefix = os.urandom(PREFIX_SIZE)
        params = STREAM_PARAMS.pack(prefix, chunk_size)
        header = self._wrap(STREAM_FORMAT, dek) + params
        return seal_segments(
            header, AESGCM(dek), prefix, stream_aad(params, aad), chunks, chunk_size
        )

    def decrypt_stream(self, pieces: Iterable[bytes] | bytes, *, aad: bytes) -> Iterator[bytes]:
        """Yield the plaintext of a stream given in pieces of any size.

        Memory stays within one segment plus one input piece. Each segment is
        authenticated before it is yielded, but a truncated stream is only detected at its
        end: discard what was yielded if DecryptionError is raised.
        """
        check_aad(aad)
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
        expect_format(head, STREAM_FORMAT)
        params = bytes(head[ENVELOPE_SIZE:STREAM_HEADER_SIZE])
        prefix, segment_size = STREAM_PARAMS.unpack(params)
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise DecryptionError("stream header declares an invalid segment size")
        aead = AESGCM(self._unwrap(bytes(head[:ENVELOPE_SIZE])))
        segment_aad = stream_aad(params, aad)
        sealed_pieces = itertools.chain((bytes(head[STREAM_HEADER_SIZE:]),), source)
        del head  # may hold a whole blob given in one piece
        for index, (segment, last) in enumerate(cut(sealed_pieces, segment_size + TAG_SIZE)):
            if index >= MAX_SEGMENTS:
                raise DecryptionError("stream has more segments than its counter allows")
            if len(segment) < TAG_SIZE:
                raise DecryptionError(f"stream is truncated in segment {index}")
            nonce = SEGMENT_NONCE.pack(prefix, index, last)
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
        expect_format(header, STREAM_FORMAT)
        if self.wrapped_by(header) == self._active:
            return header
        return self._rewrap_envelope(header[:ENVELOPE_SIZE]) + header[ENVELOPE_SIZE:]

    # -- pseudonyms -------------------------------------------------------------------

    def pseudonym(self, value: str) -> str:
        """Return the keyed HMAC-SHA256 (hex) of ``value``: stable, unlinkable without the key."""
        # The HMAC key is not rotated with the KEKs: pseudonyms must stay comparable.
        return hmac.new(self._hmac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def derived_key(self, purpose: str) -> bytes:
        """Return a 256-bit key for ``purpose``, derived from the HMAC key (never rotated)."""
        label = f"ess-router key for {purpose}".encode()
        return hmac.new(self._hmac_key, label, hashlib.sha256).digest()

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
        return ENVELOPE.pack(fmt, version, nonce, wrapped)

    def _unwrap(self, envelope: bytes) -> bytes:
        _, version, nonce, wrapped = ENVELOPE.unpack(envelope)
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
            return AESGCM(kek).decrypt(nonce, wrapped, envelope[:WRAP_AAD_SIZE])
        except InvalidTag:
            raise DecryptionError(
                f"data key failed authentication under key version {version}"
            ) from None

    def _rewrap_envelope(self, envelope: bytes) -> bytes:
        return self._wrap(envelope[0], self._unwrap(envelope))

    @staticmethod
    def wrapped_by(blob: bytes) -> int:
        """Return the version of the key that wraps the data key of ``blob`` (or its header)."""
        if len(blob) < ENVELOPE_SIZE:
            raise DecryptionError("ciphertext is shorter than its key envelope")
        if blob[0] not in (RECORD_FORMAT, STREAM_FORMAT):
            raise DecryptionError(f"unknown ciphertext format 0x{blob[0]:02x}")
        if blob[0] == STREAM_FORMAT and len(blob) < STREAM_HEADER_SIZE:
            raise DecryptionError("stream is shorter than its header")
        return ENVELOPE.unpack_from(blob)[1]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
