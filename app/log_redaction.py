"""Access logs never keep an e-mailed link: the token in its path is masked.

A single-use link is a credential until it is used: whoever reads it in a log could
choose the account's password. Uvicorn's access log writes each request's path, so the
token of the API's ``/api/v1/auth/tokens/{token}`` and of the pages the e-mails open
(``/invitation/…``, ``/mot-de-passe/…``, ``/confirmation-adresse/…``) is replaced there.
"""

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
_TOKEN_IN_PATH = re.compile(
    r"(/(?:api/v1/auth/tokens|invitation|mot-de-passe|confirmation-adresse)/)[^/?#\s\"]+"
)
MASK = "[jeton masqué]"


def mask_link_tokens(text: str) -> str:
    """Return ``text`` with the token of every e-mailed link's path masked."""
    return _TOKEN_IN_PATH.sub(rf"\1{MASK}", text)


class LinkTokenFilter(logging.Filter):
    """Mask link tokens in a record's message and arguments (the request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_link_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_link_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install() -> None:
    """Put the filter on uvicorn's access log (once, whatever configures logging later)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, LinkTokenFilter) for existing in access.filters):
        access.addFilter(LinkTokenFilter())
