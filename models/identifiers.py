"""Validation of French health identifiers: RPPS (professionals) and INS/NIR (patients)."""

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
