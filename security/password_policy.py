"""What a password must be: long enough, not a common one, not the user's own name or address.

Common passwords and guessability come from zxcvbn (Dropbox's estimator, its lists of
the most used passwords, names and words, with their l33t and reversed spellings): a
password it estimates can be found in fewer than 10^8 guesses is refused. Messages
are French and say which rule failed.
"""

import re
import unicodedata
from dataclasses import dataclass

from zxcvbn import matching, scoring

MIN_LENGTH = 12
MAX_LENGTH = 128
# Fewer guesses than this (zxcvbn's score 2 and below): found by an online attack.
MIN_GUESSES = 10**8
# Parts of a name or address shorter than this are too common to refuse ("de", "ess"):
# once reversed or in l33t, three letters turn up in too many honest passwords.
MIN_PART = 4


@dataclass(frozen=True)
class WeakPassword(Exception):
    """The password breaks a rule; ``reason`` says which, in French."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def _parts(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [part for part in re.split(r"[\W_]+", folded) if len(part) >= MIN_PART]


def personal_parts(name: str, email: str) -> dict[str, str]:
    """Return each part of the name and address with what it is ("nom" or "adresse")."""
    local, _, domain = email.partition("@")
    labels = domain.split(".")[:-1]  # not the top-level domain ("fr", "com")
    parts = {part: "adresse" for part in _parts(local) + _parts(" ".join(labels))}
    parts.update({part: "nom" for part in _parts(name)})
    for whole in (local.casefold(), email.casefold()):
        if len(whole) >= MIN_PART:
            parts.setdefault(whole, "adresse")
    return parts


def check_password(password: str, *, name: str = "", email: str = "") -> None:
    """Raise ``WeakPassword`` with the first rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Le mot de passe doit comporter au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Le mot de passe ne peut dépasser {MAX_LENGTH} caractères.")
    mine = personal_parts(name, email)
    # Our own dictionary beside zxcvbn's (never its shared ``user_inputs`` slot, which
    # its ``zxcvbn()`` rewrites for every caller: checks run in threads).
    dictionaries = dict(matching.RANKED_DICTIONARIES)
    dictionaries["user_inputs"] = matching.build_ranked_dict(list(mine))
    found = matching.omnimatch(password, dictionaries)
    for match in found:
        if match.get("dictionary_name") == "user_inputs":
            what = mine.get(match["matched_word"], "adresse")
            raise WeakPassword(
                "Le mot de passe ne doit pas contenir votre nom."
                if what == "nom"
                else "Le mot de passe ne doit pas contenir votre adresse e-mail."
            )
    estimate = scoring.most_guessable_match_sequence(password, found)
    if estimate["guesses"] < MIN_GUESSES:
        sequence = estimate["sequence"]
        if len(sequence) == 1 and sequence[0].get("dictionary_name") == "passwords":
            raise WeakPassword(
                "Ce mot de passe fait partie des plus courants : choisissez-en un autre."
            )
        raise WeakPassword(
            "Ce mot de passe est trop facile à deviner (mot courant, suite ou répétition) : "
            "allongez-le ou mêlez plusieurs mots peu courants."
        )
