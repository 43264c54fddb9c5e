"""What every schema a client sends is built from: clean text, and no unknown fields.

PostgreSQL cannot store NUL in text at all (the statement fails), and control
characters in a name or a reason are at best noise, at worst a way to forge log
lines or hide text: every text field of an input schema is one of the two types
below (passwords excepted: they are only ever hashed). A field the schema does not
know is refused rather than silently ignored, so that a client who believes it
changed something (``PATCH /users/{id} {"email": …}``) is told it did not.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, ConfigDict
from sqlmodel import SQLModel

# Line breaks and tabs are part of prose (a question, an answer, a message).
_PROSE_CONTROLS = frozenset("\t\n\r")
# Bidirectional embeddings, overrides and isolates: in a name they make « Dr Tnaib »
# display as « Dr Bient », whatever the page does.
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _refuse(value: str, allowed: frozenset[str]) -> str:
    for char in value:
        if char in allowed:
            continue
        category = unicodedata.category(char)
        # Cc: control characters (NUL among them); Cs: lone surrogates; Zl, Zp: line
        # and paragraph separators, which only prose may contain.
        if category in ("Cc", "Cs") or (not allowed and category in ("Zl", "Zp")):
            raise ValueError(f"caractère de contrôle interdit (U+{ord(char):04X})")
    return value


def _single_line(value: str) -> str:
    for char in value:
        if char in _BIDI_CONTROLS:
            raise ValueError(
                f"caractère de contrôle interdit (U+{ord(char):04X}, sens d'écriture forcé)"
            )
    return _refuse(value, frozenset())


def _prose(value: str) -> str:
    return _refuse(value, _PROSE_CONTROLS)


# A name, an e-mail address, a code, a reason: one line of printable text.
SingleLine = Annotated[str, AfterValidator(_single_line)]
# Free text over several lines: tabs and line breaks allowed, other controls refused.
Prose = Annotated[str, AfterValidator(_prose)]


class Input(SQLModel):
    """Base of the schemas a client sends: a field it does not declare is an error."""

    model_config = ConfigDict(extra="forbid")
