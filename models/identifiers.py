"""Validation of identifiers: RPPS (professionals), INS/NIR (patients), e-mail addresses."""

import unicodedata

from confusable_homoglyphs.confusables import is_mixed_script
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import nir


def validate_rpps(value: str) -> str:
    """Return the RPPS number compacted, or raise ``ValueError`` in French."""
    compact = "".join(value.split())
    if len(compact) != 11 or not compact.isdigit():
        raise ValueError("Le numéro RPPS doit comporter 11 chiffres.")
    try:
        luhn.validate(compact)
    except StdnumValidationError as exc:
        raise ValueError("Le numéro RPPS est invalide (clé de contrôle incorrecte).") from exc
    return compact


def validate_ins(value: str) -> str:
    """Return the INS (NIR, 15 characters) compacted, or raise ``ValueError`` in French."""
    try:
        return nir.validate(value)
    except StdnumValidationError as exc:
        raise ValueError(
            "L'INS doit être un NIR valide de 15 caractères (13 chiffres et une clé de 2 chiffres)."
        ) from exc


def normalize_email(value: str) -> str:
    """Return the address as stored and compared: NFKC, trimmed, lower case.

    NFKC folds compatibility look-alikes (full-width letters, ligatures) into the
    plain characters, so that two spellings of one address are one account.
    """
    folded = unicodedata.normalize("NFKC", value).strip().lower()
    return unicodedata.normalize("NFKC", folded)


def check_email_scripts(address: str) -> str:
    """Refuse an address whose local part or a domain label mixes alphabets (in French).

    A Cyrillic « а » among Latin letters makes a look-alike of another person's
    address; one alphabet per part (digits and punctuation are common to all) is
    what real addresses use.
    """
    local, _, domain = address.rpartition("@")
    for part in [local, *domain.split(".")]:
        if is_mixed_script(part, allowed_aliases=["COMMON", "INHERITED"]):
            raise ValueError(
                "L'adresse e-mail mélange plusieurs alphabets (par exemple latin et cyrillique) : "
                "saisissez-la avec un seul alphabet."
            )
    return address
