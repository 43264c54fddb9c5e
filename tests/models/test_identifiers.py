"""RPPS and INS validation, as the API and the CLI apply it."""

import pytest

from models.identifiers import validate_ins, validate_rpps


@pytest.mark.parametrize("rpps", ["10000000017", "12345678903", " 1000 0000 017 "])
def test_valid_rpps(rpps: str) -> None:
    assert validate_rpps(rpps) == "".join(rpps.split())


@pytest.mark.parametrize(
    ("rpps", "message"),
    [
        ("10000000018", "clé de contrôle"),
        ("1000000001", "11 chiffres"),
        ("100000000170", "11 chiffres"),
        ("1000000001a", "11 chiffres"),
        ("", "11 chiffres"),
    ],
)
def test_invalid_rpps(rpps: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_rpps(rpps)


@pytest.mark.parametrize(
    "ins",
    [
        "256041234567830",
        # Corsica: 2A and 2B stand for 19 and 18 in the key: 97 - 1800119123455 % 97 = 21.
        "180012A12345521",
        "180012B12345548",
    ],
)
def test_valid_ins(ins: str) -> None:
    assert validate_ins(ins) == ins


@pytest.mark.parametrize(
    "ins", ["256041234567831", "25604123456783", "X56041234567830", "", "180012A12345548"]
)
def test_invalid_ins(ins: str) -> None:
    with pytest.raises(ValueError, match="NIR"):
        validate_ins(ins)
