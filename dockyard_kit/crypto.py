"""Encryption at rest for every service: AES-256-GCM under keys derived from a service's own
sealing root key, which the bootstrap step derives from the platform's master secret
(dockyard_kit/service_secrets.py) so that no service's key opens another's.

    ring = service_secrets.for_service(settings, "projects").key_ring()
    stored = encrypt(b"secret value", key_ring=ring, associated_data=b"projects.env_vars:" + row_id)
    value = decrypt(stored, key_ring=ring, associated_data=b"projects.env_vars:" + row_id)

Keys. A ring's secret (a service's root key; before the bootstrap step, the master secret itself) is
never used directly: each has a key id (a fingerprint of it, safe to store and log), and its
encryption key is HKDF-SHA256(secret, info = "dockyard aes-256-gcm v1"). Every ciphertext records
the key id it was sealed under, so the secret can be rotated: a `KeyRing` encrypts under its current
secret and decrypts under the current one and any previous ones it is given; data sealed under a
secret no longer in the ring fails with a `DecryptionError` that names the missing key id.
`reencrypt` moves a value to the current secret.

Associated data. Callers bind each ciphertext to where it lives (table, row id, column): it is
authenticated, not stored, so a ciphertext copied into another row does not decrypt there.

Format (bytes): version (1) | key id length (1) | key id (ASCII) | nonce (12) | AES-GCM ciphertext
and 16-byte tag. The version and key id are authenticated too. Nonces are random: NIST SP 800-38D
bounds that at 2**32 encryptions per key, far beyond what a control plane stores.
"""

import dataclasses
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_KDF_INFO = b"dockyard aes-256-gcm v1"
_KEY_ID_LABEL = b"dockyard master key id"


class DecryptionError(Exception):
    """The ciphertext is damaged, was sealed for other associated data, or under a master secret
    this key ring does not hold. Deliberately vague about which: that is not for callers to probe."""


def master_key_id(master_secret: bytes) -> str:
    """A stable, non-secret name for a ring's secret (16 hex characters)."""
    return hmac.new(master_secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _derive_key(master_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_KDF_INFO).derive(master_secret)


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """The current secret (encrypts and decrypts) and previous ones (decrypt only)."""

    current_key_id: str
    _ciphers: dict[str, AESGCM] = dataclasses.field(repr=False)

    @classmethod
    def of(cls, current_secret: bytes, previous_secrets: Iterable[bytes] = ()) -> "KeyRing":
        if not current_secret:
            raise ValueError("the master secret is empty")
        secrets = [current_secret, *previous_secrets]
        ciphers = {master_key_id(secret): AESGCM(_derive_key(secret)) for secret in secrets}
        return cls(current_key_id=master_key_id(current_secret), _ciphers=ciphers)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def cipher(self, key_id: str) -> AESGCM | None:
        return self._ciphers.get(key_id)


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes([FORMAT_VERSION, len(encoded)]) + encoded


def encrypt(plaintext: bytes, *, key_ring: KeyRing, associated_data: bytes) -> bytes:
    """Seals `plaintext` under the ring's current master secret, bound to `associated_data`."""
    header = _header(key_ring.current_key_id)
    nonce = os.urandom(NONCE_BYTES)
    sealed = key_ring.cipher(key_ring.current_key_id).encrypt(nonce, plaintext, header + associated_data)
    return header + nonce + sealed


def key_id_of(ciphertext: bytes) -> str:
    """The id of the master secret a ciphertext was sealed under."""
    if len(ciphertext) < 2 or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionError("not a Dockyard ciphertext (unknown format version)")
    length = ciphertext[1]
    if len(ciphertext) < 2 + length + NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is truncated")
    try:
        return ciphertext[2 : 2 + length].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("ciphertext header is damaged") from None


def decrypt(ciphertext: bytes, *, key_ring: KeyRing, associated_data: bytes) -> bytes:
    """The plaintext, if the ciphertext is intact, was sealed with this `associated_data`, and its
    master secret is in the ring."""
    key_id = key_id_of(ciphertext)
    cipher = key_ring.cipher(key_id)
    if cipher is None:
        raise DecryptionError(f"sealed under master key {key_id}, which is not configured")
    header_length = 2 + len(key_id)
    nonce = ciphertext[header_length : header_length + NONCE_BYTES]
    try:
        return cipher.decrypt(
            nonce, ciphertext[header_length + NONCE_BYTES :], ciphertext[:header_length] + associated_data
        )
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


def reencrypt(ciphertext: bytes, *, key_ring: KeyRing, associated_data: bytes) -> bytes:
    """The same plaintext sealed under the current master secret (after a rotation)."""
    if key_id_of(ciphertext) == key_ring.current_key_id:
        return ciphertext
    plaintext = decrypt(ciphertext, key_ring=key_ring, associated_data=associated_data)
    return encrypt(plaintext, key_ring=key_ring, associated_data=associated_data)
