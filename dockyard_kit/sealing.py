"""Encryption at rest for the secret columns of any service: AES-256-GCM (dockyard_kit.crypto) under
the service's own key ring (dockyard_kit/service_secrets.py), stored as base64 text in TEXT columns. Each value is bound to where
it lives (service, table, column, row id), so a ciphertext copied to another row or column does not
decrypt there; rows with a secret get their id before the insert for that reason.

A service lists its encrypted columns in `services/<name>/sealed_columns.py`, as `COLUMNS`: a tuple
of SealedColumn. `python -m dockyard_kit.reencrypt` finds them there (dockyard_kit/reencrypt.py)
and moves every value to the current key after a rotation; the bootstrap step does the same when it
moves values sealed under the master secret itself (before per-service keys) to the service's keys.
"""

import base64
import dataclasses
import uuid

from dockyard_kit import service_modules
from dockyard_kit.crypto import KeyRing, decrypt, encrypt, key_id_of, reencrypt

# How every service shows a secret it will not reveal (env vars, credentials, keys, registry passwords).
SECRET_MASK = "********"


@dataclasses.dataclass(frozen=True)
class SealedColumn:
    """One encrypted column of a service's schema, as the key-rotation command walks it. The two
    conditions are SQL over the table's own columns."""

    table: str
    column: str
    # Which rows hold a sealed value (a non-secret env var's value is plaintext).
    sealed_rows: str = "true"
    # Which sealed rows can be rewritten; the others are skipped (the schema may refuse their UPDATE).
    rewritable_rows: str = "true"
    # What the skipped rows are, for the command's summary.
    skipped_rows: str = ""
    # The row's id (bound into the associated data) and its SQL type.
    id_column: str = "id"
    id_type: str = "uuid"
    # The value as raw bytes (bytea) rather than base64 text.
    binary: bool = False
    # A column beside it that records the key id the value is sealed under, kept in step.
    key_id_column: str | None = None


def registered_columns(service: str) -> tuple[SealedColumn, ...]:
    """The encrypted columns a service registers: COLUMNS in services/<service>/sealed_columns.py;
    none without that module."""
    return tuple(service_modules.registered(service, "sealed_columns", "COLUMNS") or ())


@dataclasses.dataclass(frozen=True)
class Sealer:
    """Seals and opens the values of one service's encrypted columns."""

    service: str
    key_ring: KeyRing

    def _associated_data(self, table: str, column: str, row_id: uuid.UUID | str) -> bytes:
        return f"{self.service}.{table}.{column}:{row_id}".encode()

    def seal(self, table: str, column: str, row_id: uuid.UUID, plaintext: str) -> str:
        sealed = encrypt(
            plaintext.encode(),
            key_ring=self.key_ring,
            associated_data=self._associated_data(table, column, row_id),
        )
        return base64.b64encode(sealed).decode("ascii")

    def unseal(self, table: str, column: str, row_id: uuid.UUID, stored: str) -> str:
        """Raises dockyard_kit.crypto.DecryptionError when the value cannot be opened."""
        plaintext = decrypt(
            base64.b64decode(stored),
            key_ring=self.key_ring,
            associated_data=self._associated_data(table, column, row_id),
        )
        return plaintext.decode()

    def reseal(self, table: str, column: str, row_id: uuid.UUID | str, stored: str) -> str | None:
        """The value sealed under the ring's current key, or None if it already is."""
        sealed = base64.b64decode(stored)
        if key_id_of(sealed) == self.key_ring.current_key_id:
            return None
        moved = reencrypt(
            sealed, key_ring=self.key_ring, associated_data=self._associated_data(table, column, row_id)
        )
        return base64.b64encode(moved).decode("ascii")
