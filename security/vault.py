"""Clinical fields in and out of their encrypted columns, bound to their row and field."""

import logging
import unicodedata
import uuid

from security.crypto import KeyRing
from security.envelope import DecryptionError
from security.keyfile import KeyFile

logger = logging.getLogger("ess_router.security")


class IntegrityError(Exception):
    """A stored ciphertext failed its integrity check (tampered, misplaced, or key retired)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"contenu chiffré illisible ({where}) : contrôle d'intégrité en échec")
        self.where = where


class Vault:
    def __init__(self, keys: KeyRing | KeyFile) -> None:
        self._keys = keys

    @property
    def keyring(self) -> KeyRing:
        """The key ring now: a key file's is read again after a rotation."""
        keys = self._keys
        return keys.ring if isinstance(keys, KeyFile) else keys

    @staticmethod
    def place(table: str, record_id: uuid.UUID, field: str) -> str:
        return f"{table}:{record_id}:{field}"

    def encrypt(self, table: str, record_id: uuid.UUID, field: str, value: str) -> bytes:
        return self.keyring.encrypt_text(value, aad=self.place(table, record_id, field))

    def encrypt_optional(
        self, table: str, record_id: uuid.UUID, field: str, value: str | None
    ) -> bytes | None:
        return None if value is None else self.encrypt(table, record_id, field, value)

    def decrypt(self, table: str, record_id: uuid.UUID, field: str, blob: bytes) -> str:
        where = self.place(table, record_id, field)
        try:
            return self.keyring.decrypt_text(bytes(blob), aad=where)
        except DecryptionError as exc:
            # The record and field are logged, never any content.
            logger.error("integrity check failed for %s: %s", where, exc)
            raise IntegrityError(where) from exc

    def decrypt_optional(
        self, table: str, record_id: uuid.UUID, field: str, blob: bytes | None
    ) -> str | None:
        return None if blob is None else self.decrypt(table, record_id, field, blob)

    def decrypt_or_note(
        self,
        table: str,
        record_id: uuid.UUID,
        field: str,
        blob: bytes | None,
        unreadable: list[str],
    ) -> str | None:
        """Decrypt ``blob``; if it cannot be, note ``field`` in ``unreadable`` and return None."""
        try:
            return self.decrypt_optional(table, record_id, field, blob)
        except IntegrityError:
            unreadable.append(field)
            return None

    def patient_key(
        self, *, ins: str | None, last_name: str, first_name: str, birth_date: str
    ) -> str:
        """Pseudonymise a patient: INS when known, else birth name, first name, birth date."""
        if ins:
            identity = f"ins:{ins}"
        else:
            identity = "|".join(["nom", _normalise(last_name), _normalise(first_name), birth_date])
        return self.keyring.pseudonym(identity)


def _normalise(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.upper().replace("-", " ").replace("'", " ").split())
