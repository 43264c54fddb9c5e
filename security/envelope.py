"""The ciphertext formats of envelope encryption, and the helpers that build and cut them.

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

import struct
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

RECORD_FORMAT = 0x01
STREAM_FORMAT = 0x02

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

ENVELOPE = struct.Struct(">BI12s48s")
ENVELOPE_SIZE = ENVELOPE.size
# Format byte and KEK version: what the wrap of the DEK authenticates.
WRAP_AAD_SIZE = 5
RECORD_HEADER_SIZE = ENVELOPE_SIZE + NONCE_SIZE

STREAM_PARAMS = struct.Struct(">7sI")
STREAM_HEADER_SIZE = ENVELOPE_SIZE + STREAM_PARAMS.size
PREFIX_SIZE = 7
SEGMENT_NONCE = struct.Struct(">7sIB")
DEFAULT_SEGMENT_SIZE = 64 * 1024
# Caps what a (possibly forged) header can make the decryptor buffer.
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
MAX_SEGMENTS = 0xFFFF_FFFF + 1


class DecryptionError(Exception):
    """A ciphertext is tampered with, misplaced, malformed or under a key not held."""


def seal_segments(
    header: bytes,
    aead: AESGCM,
    prefix: bytes,
    segment_aad: bytes,
    chunks: Iterable[bytes],
    chunk_size: int,
) -> Iterator[bytes]:
    yield header
    for index, (segment, last) in enumerate(cut(chunks, chunk_size)):
        if index >= MAX_SEGMENTS:
            raise ValueError("stream is too long for its segment counter")
        yield aead.encrypt(SEGMENT_NONCE.pack(prefix, index, last), segment, segment_aad)


def cut(pieces: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
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


def check_aad(aad: bytes) -> None:
    if not isinstance(aad, bytes | bytearray | memoryview):
        raise TypeError("aad must be bytes")
    if not aad:
        # Empty associated data would let a ciphertext move between rows unnoticed.
        raise ValueError("aad must name where the ciphertext is stored")


def record_aad(aad: bytes) -> bytes:
    return bytes([RECORD_FORMAT]) + bytes(aad)


def stream_aad(params: bytes, aad: bytes) -> bytes:
    return bytes([STREAM_FORMAT]) + params + bytes(aad)


def expect_format(blob: bytes | bytearray, fmt: int) -> None:
    if blob[0] != fmt:
        names = {RECORD_FORMAT: "a record", STREAM_FORMAT: "a stream"}
        actual = names.get(blob[0], f"of unknown format 0x{blob[0]:02x}")
        raise DecryptionError(f"ciphertext is {actual}, expected {names[fmt]}")
