"""Single-use link tokens: derived from a row id and the secret key, stored as a digest.

The database keeps only ``digest(token)``. The token itself is an HMAC of the row's id
under the service's secret key, so the sender can write it into the e-mail when it
goes out while a copy of the database (outbox included) yields no working link.
"""

import base64
import hashlib
import hmac
import uuid

_PURPOSE = b"ess-router account link\x00"


def link_token(secret: str, token_id: uuid.UUID) -> str:
    """Return the token of the link for row ``token_id`` (43 URL-safe characters)."""
    mac = hmac.new(secret.encode(), _PURPOSE + token_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def digest(token: str) -> str:
    """Return what is stored for ``token``: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()
