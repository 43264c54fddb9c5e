"""The key file on disk: created once, and taken up by running servers when replaced."""

import os
import stat
from pathlib import Path

import pytest

from security import keyfile
from security.crypto import KeyRing
from security.keyfile import KeyFile, KeyFileError

AAD = b"request:0b6f1c1e-5d0e-4f57-9a43-3f1f6f1f0001:question"


def test_create_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "ess-router.keys"
    ring = keyfile.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="existe déjà") as error:
        keyfile.create(path)
    assert "\n" not in str(error.value)
    assert path.read_bytes() == before
    assert keyfile.load(path) == ring


def test_a_running_key_file_takes_up_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "ess-router.keys"
    keys = KeyFile(path, create=True)
    old = keys.ring.encrypt(b"avant", aad=AAD)
    # Another process (ess-router keys rotate) replaces the file.
    rotated = keyfile.load(path)
    rotated.add_key()
    keyfile.save(rotated, path)
    assert keys.ring.active_version == 2
    assert KeyRing.wrapped_by(keys.ring.encrypt(b"apres", aad=AAD)) == 2
    assert keys.ring.decrypt(old, aad=AAD) == b"avant"


def test_a_broken_replacement_keeps_the_keys_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ess-router.keys"
    keys = KeyFile(path, create=True)
    ring = keys.ring
    tmp = tmp_path / "half-written"
    tmp.write_text('{"format": 1, "act')
    os.replace(tmp, path)
    assert keys.ring is ring
    assert "not taken up" in caplog.text
    assert caplog.text.count("not taken up") == 1
    assert keys.ring is ring
    assert caplog.text.count("not taken up") == 1
