"""Encryption at rest for the projects service's secret columns: AES-256-GCM (dockyard_kit.crypto)
under the platform's master key ring, stored as base64 text in the seed's TEXT columns. Each value
is bound to where it lives (table, column, row id), so a ciphertext copied to another row or column
does not decrypt there; rows with a secret get their id before the insert for that reason."""

import base64
import dataclasses
import uuid

from dockyard_kit.crypto import KeyRing, decrypt, encrypt, key_id_of, reencrypt

# Every encrypted column of the projects schema: (table, column). `reencrypt` walks these.
ENCRYPTED_COLUMNS = (
    ("env_vars", "value"),
    ("git_sources", "webhook_secret"),
    ("certificates", "private_key"),
    ("databases", "connection_string"),
)


def _associated_data(table: str, column: str, row_id: uuid.UUID) -> bytes:
    return f"projects.{table}.{column}:{row_id}".encode()


@dataclasses.dataclass(frozen=True)
class Sealer:
    key_ring: KeyRing

    def seal(self, table: str, column: str, row_id: uuid.UUID, plaintext: str) -> str:
        sealed = encrypt(
            plaintext.encode(),
            key_ring=self.key_ring,
            associated_data=_associated_data(table, column, row_id),
        )
        return base64.b64encode(sealed).decode("ascii")

    def unseal(self, table: str, column: str, row_id: uuid.UUID, stored: str) -> str:
        """Raises dockyard_kit.crypto.DecryptionError when the value cannot be opened."""
        plaintext = decrypt(
            base64.b64decode(stored),
            key_ring=self.key_ring,
            associated_data=_associated_data(table, column, row_id),
        )
        return plaintext.decode()

    def reseal(self, table: str, column: str, row_id: uuid.UUID, stored: str) -> str | None:
        """The value sealed under the current master key, or None if it already is."""
        sealed = base64.b64decode(stored)
        if key_id_of(sealed) == self.key_ring.current_key_id:
            return None
        moved = reencrypt(
            sealed, key_ring=self.key_ring, associated_data=_associated_data(table, column, row_id)
        )
        return base64.b64encode(moved).decode("ascii")
