"""Envelope encryption: tampering, misplacement, rotation, key files, streams."""

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from security import keyfile
from security.crypto import KeyRing
from security.envelope import ENVELOPE_SIZE, STREAM_HEADER_SIZE, TAG_SIZE, DecryptionError
from security.keyfile import KeyFileError

SECRET = b"Patiente de 67 ans, dyspnee d'effort, FEVG 35 %"
AAD = b"request:0b6f1c1e-5d0e-4f57-9a43-3f1f6f1f0001:question"
SEGMENT = 64 * 1024

# Module level: hypothesis tests must not depend on function-scoped fixtures.
RING = KeyRing.generate()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def flipped(blob: bytes, position: int) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 0x01
    return bytes(changed)


def assert_no_plaintext(error: pytest.ExceptionInfo[DecryptionError], plaintext: bytes) -> None:
    message = str(error.value)
    assert plaintext.decode("latin-1") not in message
    assert repr(plaintext) not in message


# -- records --------------------------------------------------------------------------


def test_round_trip() -> None:
    blob = RING.encrypt(SECRET, aad=AAD)
    assert SECRET not in blob
    assert RING.decrypt(blob, aad=AAD) == SECRET


def test_empty_plaintext_round_trip() -> None:
    assert RING.decrypt(RING.encrypt(b"", aad=AAD), aad=AAD) == b""


def test_same_plaintext_encrypts_differently() -> None:
    assert RING.encrypt(SECRET, aad=AAD) != RING.encrypt(SECRET, aad=AAD)


def test_text_round_trip() -> None:
    text = "Patiente de 67 ans, dyspnée d'effort, œdème des membres inférieurs"
    blob = RING.encrypt_text(text, aad="request:42:question")
    assert RING.decrypt_text(blob, aad="request:42:question") == text
    with pytest.raises(DecryptionError):
        RING.decrypt_text(blob, aad="request:42:answer")


def test_non_utf8_plaintext_raises_without_quoting_it() -> None:
    blob = RING.encrypt(b"caf\xe9 \xff", aad=AAD)
    with pytest.raises(DecryptionError) as error:
        RING.decrypt_text(blob, aad=AAD.decode())
    assert "xff" not in str(error.value) and "xe9" not in str(error.value)
    # The UnicodeDecodeError (which holds the plaintext) is not shown in tracebacks.
    assert error.value.__suppress_context__


def test_flipping_any_byte_raises() -> None:
    plaintext = b"short secret"
    blob = RING.encrypt(plaintext, aad=AAD)
    for position in range(len(blob)):
        with pytest.raises(DecryptionError) as error:
            RING.decrypt(flipped(blob, position), aad=AAD)
        assert_no_plaintext(error, plaintext)


def test_truncated_or_extended_blob_raises() -> None:
    blob = RING.encrypt(SECRET, aad=AAD)
    for bad in (b"", blob[:1], blob[:ENVELOPE_SIZE], blob[:-1], blob + b"\x00"):
        with pytest.raises(DecryptionError):
            RING.decrypt(bad, aad=AAD)


@pytest.mark.parametrize(
    "other_aad",
    [
        b"request:0b6f1c1e-5d0e-4f57-9a43-3f1f6f1f0002:question",  # another record
        b"request:0b6f1c1e-5d0e-4f57-9a43-3f1f6f1f0001:answer",  # another field
        b"message:0b6f1c1e-5d0e-4f57-9a43-3f1f6f1f0001:question",  # another table
    ],
)
def test_other_associated_data_raises(other_aad: bytes) -> None:
    blob = RING.encrypt(SECRET, aad=AAD)
    with pytest.raises(DecryptionError) as error:
        RING.decrypt(blob, aad=other_aad)
    assert_no_plaintext(error, SECRET)


def test_empty_associated_data_is_refused() -> None:
    with pytest.raises(ValueError):
        RING.encrypt(SECRET, aad=b"")


def test_record_and_stream_formats_do_not_mix() -> None:
    stream = b"".join(RING.encrypt_stream([SECRET], aad=AAD))
    with pytest.raises(DecryptionError):
        RING.decrypt(stream, aad=AAD)
    with pytest.raises(DecryptionError):
        list(RING.decrypt_stream(RING.encrypt(SECRET, aad=AAD), aad=AAD))


def test_another_key_ring_cannot_decrypt() -> None:
    blob = RING.encrypt(SECRET, aad=AAD)
    with pytest.raises(DecryptionError):
        KeyRing.generate().decrypt(blob, aad=AAD)


@given(st.binary(max_size=4096), st.binary(min_size=1, max_size=80))
def test_decrypt_inverts_encrypt(plaintext: bytes, aad: bytes) -> None:
    assert RING.decrypt(RING.encrypt(plaintext, aad=aad), aad=aad) == plaintext


# -- rotation -------------------------------------------------------------------------


def test_rotation_rewraps_without_touching_content() -> None:
    ring = KeyRing.generate()
    blobs = {f"request:{i}:question".encode(): os.urandom(50 + i) for i in range(5)}
    sealed = {aad: ring.encrypt(data, aad=aad) for aad, data in blobs.items()}
    stale = ring.encrypt(SECRET, aad=AAD)

    new = ring.add_key()
    assert new == 2 and ring.active_version == 2 and ring.versions == (1, 2)
    assert all(ring.needs_rewrap(blob) for blob in sealed.values())
    rewrapped = {aad: ring.rewrap(blob) for aad, blob in sealed.items()}
    for aad, blob in rewrapped.items():
        assert not ring.needs_rewrap(blob)
        assert blob[ENVELOPE_SIZE:] == sealed[aad][ENVELOPE_SIZE:]
        assert ring.rewrap(blob) == blob

    ring.retire(1)
    assert ring.versions == (2,) and ring.retired_versions == (1,)
    for aad, blob in rewrapped.items():
        assert ring.decrypt(blob, aad=aad) == blobs[aad]
    assert ring.decrypt(ring.encrypt(SECRET, aad=AAD), aad=AAD) == SECRET

    with pytest.raises(DecryptionError, match=r"key version 1\b.*retired") as error:
        ring.decrypt(stale, aad=AAD)
    assert_no_plaintext(error, SECRET)
    with pytest.raises(DecryptionError, match="retired"):
        ring.rewrap(stale)


def test_active_key_cannot_be_retired() -> None:
    ring = KeyRing.generate()
    with pytest.raises(ValueError):
        ring.retire(1)
    ring.add_key()
    with pytest.raises(ValueError):
        ring.retire(2)
    with pytest.raises(ValueError):
        ring.retire(7)


def test_retired_versions_are_not_reused(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    ring.add_key()
    ring.retire(1)
    keyfile.save(ring, tmp_path / "keys")
    reloaded = keyfile.load(tmp_path / "keys")
    assert reloaded.retired_versions == (1,)
    assert reloaded.add_key() == 3


def test_swapped_version_raises() -> None:
    ring = KeyRing.generate()
    old = ring.encrypt(SECRET, aad=AAD)
    ring.add_key()
    new = ring.encrypt(SECRET, aad=AAD)
    # Claim the other held version: the wrap authenticates the version, so this fails.
    for blob, version in ((old, 2), (new, 1)):
        forged = bytearray(blob)
        forged[1:5] = version.to_bytes(4, "big")
        with pytest.raises(DecryptionError):
            ring.decrypt(bytes(forged), aad=AAD)


def test_unknown_version_raises() -> None:
    blob = bytearray(RING.encrypt(SECRET, aad=AAD))
    blob[1:5] = (99).to_bytes(4, "big")
    with pytest.raises(DecryptionError, match="99"):
        RING.decrypt(bytes(blob), aad=AAD)


# -- key file -------------------------------------------------------------------------


def test_key_file_is_private_and_reloads_equal(tmp_path: Path) -> None:
    path = tmp_path / "ess-router.keys"
    ring = KeyRing.generate()
    ring.add_key()
    keyfile.save(ring, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = keyfile.load(path)
    assert reloaded == ring
    assert reloaded != KeyRing.generate()
    document = json.loads(path.read_text())
    assert document["format"] == 1 and document["active"] == 2
    assert set(document["keks"]) == {"1", "2"}
    assert [p.name for p in tmp_path.iterdir()] == ["ess-router.keys"]
    blob = ring.encrypt(SECRET, aad=AAD)
    assert reloaded.decrypt(blob, aad=AAD) == SECRET


def test_save_replaces_a_too_open_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("old")
    path.chmod(0o644)
    keyfile.save(KeyRing.generate(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_repr_hides_keys() -> None:
    ring = KeyRing.generate()
    document = ring.to_document()
    assert document["hmac"] not in repr(ring)
    assert all(kek not in repr(ring) for kek in document["keks"].values())


def test_missing_key_file_raises(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="n'existe pas") as error:
        keyfile.load(tmp_path / "nope")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe not json",
        b"[1, 2]",
        b'{"format": 2, "active": 1, "keks": {"1": "AAAA"}, "hmac": "AAAA"}',
        b'{"format": 1, "active": 1, "keks": {}, "hmac": "AAAA"}',
        b'{"format": 1, "active": 1, "keks": {"1": "AAAA"}, "hmac": "AAAA"}',
        b'{"format": 1, "active": 1, "keks": {"1": "not base64!"}, "hmac": "AAAA"}',
    ],
)
def test_garbled_key_file_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as error:
        keyfile.load(path)
    assert "\n" not in str(error.value)
    assert str(path) in str(error.value)


def test_key_file_with_wrong_key_length_or_active_raises(tmp_path: Path) -> None:
    document = KeyRing.generate().to_document()
    path = tmp_path / "keys"
    for change in ({"active": 5}, {"keks": {"1": "AAAA"}}, {"hmac": "AAAA"}, {"active": "1"}):
        path.write_text(json.dumps({**document, **change}))
        with pytest.raises(KeyFileError, match="mal formé"):
            keyfile.load(path)


def test_unreadable_key_file_raises(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="illisible"):
        keyfile.load(tmp_path)  # a directory


def test_load_or_create_in_dev_creates_then_reuses(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ess-router.keys"
    created = keyfile.load_or_create(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyfile.load_or_create(path, create=True) == created
    assert keyfile.load_or_create(path, create=False) == created
    assert [p.name for p in path.parent.iterdir()] == ["ess-router.keys"]


def test_load_or_create_in_prod_refuses_to_create(tmp_path: Path) -> None:
    path = tmp_path / "ess-router.keys"
    with pytest.raises(KeyFileError, match="keys init"):
        keyfile.load_or_create(path, create=False)
    assert not path.exists()


# -- pseudonyms -----------------------------------------------------------------------


def test_pseudonym_is_stable_per_key_ring(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    first = ring.pseudonym("1 85 05 78 006 084 91")
    assert ring.pseudonym("1 85 05 78 006 084 91") == first
    assert re.fullmatch("[0-9a-f]{64}", first)
    assert ring.pseudonym("2 85 05 78 006 084 91") != first
    assert KeyRing.generate().pseudonym("1 85 05 78 006 084 91") != first
    ring.add_key()
    assert ring.pseudonym("1 85 05 78 006 084 91") == first
    keyfile.save(ring, tmp_path / "keys")
    assert keyfile.load(tmp_path / "keys").pseudonym("1 85 05 78 006 084 91") == first


# -- streams --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(3 * 1024 * 1024 + 12345)


@pytest.fixture(scope="module")
def segments(payload: bytes) -> list[bytes]:
    return list(RING.encrypt_stream(pieces(payload, 1000), aad=AAD))


def test_stream_round_trip_in_odd_pieces(payload: bytes, segments: list[bytes]) -> None:
    header, *sealed = segments
    assert len(header) == STREAM_HEADER_SIZE
    assert len(sealed) == -(-len(payload) // SEGMENT)
    assert all(len(s) == SEGMENT + TAG_SIZE for s in sealed[:-1])
    blob = b"".join(segments)
    assert b"".join(RING.decrypt_stream(pieces(blob, 1000), aad=AAD)) == payload
    assert b"".join(RING.decrypt_stream(pieces(blob, 65_557), aad=AAD)) == payload
    assert b"".join(RING.decrypt_stream(segments, aad=AAD)) == payload
    assert b"".join(RING.decrypt_stream(blob, aad=AAD)) == payload


def test_stream_decryption_is_incremental(segments: list[bytes]) -> None:
    consumed = 0

    def feed() -> Iterator[bytes]:
        nonlocal consumed
        for piece in pieces(b"".join(segments), 1000):
            consumed += len(piece)
            yield piece

    plaintext = RING.decrypt_stream(feed(), aad=AAD)
    first = next(plaintext)
    assert len(first) == SEGMENT
    # Only about two segments were read: memory follows the segment, not the file.
    assert consumed <= STREAM_HEADER_SIZE + 2 * (SEGMENT + TAG_SIZE) + 1000


@pytest.mark.parametrize("length", [0, 1, 99, 100, 101, 300, 301])
def test_stream_lengths_around_segment_boundaries(length: int) -> None:
    data = os.urandom(length)
    blob = b"".join(RING.encrypt_stream(pieces(data, 7), aad=AAD, chunk_size=100))
    assert b"".join(RING.decrypt_stream(pieces(blob, 3), aad=AAD)) == data


def test_stream_tampered_segment_raises(segments: list[bytes]) -> None:
    tampered = list(segments)
    tampered[5] = flipped(tampered[5], 100)
    with pytest.raises(DecryptionError, match="segment 4"):
        b"".join(RING.decrypt_stream(tampered, aad=AAD))


def test_stream_truncated_raises(segments: list[bytes]) -> None:
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(segments[:-1], aad=AAD))
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(segments[:1], aad=AAD))
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream([segments[0][:-1]], aad=AAD))
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(b"".join(segments)[:-1], aad=AAD))


def test_stream_dropped_middle_segment_raises(segments: list[bytes]) -> None:
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(segments[:3] + segments[4:], aad=AAD))


def test_stream_reordered_raises(segments: list[bytes]) -> None:
    reordered = list(segments)
    reordered[1], reordered[2] = reordered[2], reordered[1]
    with pytest.raises(DecryptionError, match="segment 0"):
        b"".join(RING.decrypt_stream(reordered, aad=AAD))


def test_stream_extended_raises(segments: list[bytes]) -> None:
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream([*segments, segments[-1]], aad=AAD))
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream([*segments, b"\x00"], aad=AAD))


def test_stream_segment_from_another_stream_raises(payload: bytes, segments: list[bytes]) -> None:
    other = list(RING.encrypt_stream(pieces(payload, 1000), aad=AAD))
    mixed = [*segments[:3], other[3], *segments[4:]]
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(mixed, aad=AAD))


def test_stream_other_associated_data_raises(segments: list[bytes]) -> None:
    with pytest.raises(DecryptionError):
        b"".join(RING.decrypt_stream(segments, aad=b"attachment:other"))


def test_flipping_any_byte_of_a_small_stream_raises() -> None:
    data = b"compte rendu de coronarographie " * 3
    blob = b"".join(RING.encrypt_stream([data], aad=AAD, chunk_size=32))
    for position in range(len(blob)):
        with pytest.raises(DecryptionError) as error:
            b"".join(RING.decrypt_stream(flipped(blob, position), aad=AAD))
        assert_no_plaintext(error, data[:32])


def test_stream_header_rewrap(payload: bytes) -> None:
    ring = KeyRing.generate()
    header, *sealed = ring.encrypt_stream(pieces(payload, 4096), aad=AAD)
    other_header, *other_sealed = ring.encrypt_stream([b"small"], aad=AAD)
    ring.add_key()
    assert ring.needs_rewrap(header)
    new_header = ring.rewrap_stream_header(header)
    assert len(new_header) == STREAM_HEADER_SIZE and not ring.needs_rewrap(new_header)
    assert new_header[ENVELOPE_SIZE:] == header[ENVELOPE_SIZE:]
    whole = ring.rewrap(other_header + b"".join(other_sealed))
    ring.retire(1)
    assert b"".join(ring.decrypt_stream([new_header, *sealed], aad=AAD)) == payload
    assert b"".join(ring.decrypt_stream(whole, aad=AAD)) == b"small"
    with pytest.raises(DecryptionError, match=r"key version 1\b.*retired"):
        b"".join(ring.decrypt_stream([header, *sealed], aad=AAD))


@settings(max_examples=50)
@given(
    st.binary(max_size=3000),
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=500),
)
def test_stream_decrypt_inverts_encrypt(data: bytes, chunk_size: int, piece: int) -> None:
    blob = b"".join(RING.encrypt_stream(pieces(data, piece), aad=AAD, chunk_size=chunk_size))
    assert b"".join(RING.decrypt_stream(pieces(blob, piece), aad=AAD)) == data
