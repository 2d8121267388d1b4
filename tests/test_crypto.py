"""Encryption at rest (dockyard_kit.crypto): AES-256-GCM under keys derived from the master secret."""

import pytest

from dockyard_kit.config import Settings
from dockyard_kit.crypto import (
    DecryptionError,
    KeyRing,
    decrypt,
    encrypt,
    key_id_of,
    master_key_id,
    reencrypt,
)

OLD_SECRET = b"0123456789abcdef0123456789abcdef-old"
NEW_SECRET = b"0123456789abcdef0123456789abcdef-new"
WHERE = b"identity.signing_keys:kid-1"


def test_round_trip_hides_the_plaintext_and_records_the_key_id():
    ring = KeyRing.of(NEW_SECRET)
    sealed = encrypt(b"a private key", key_ring=ring, associated_data=WHERE)

    assert b"a private key" not in sealed
    assert key_id_of(sealed) == ring.current_key_id == master_key_id(NEW_SECRET)
    assert decrypt(sealed, key_ring=ring, associated_data=WHERE) == b"a private key"


def test_the_same_plaintext_never_encrypts_the_same_way_twice():
    ring = KeyRing.of(NEW_SECRET)
    first, second = (encrypt(b"x", key_ring=ring, associated_data=WHERE) for _ in range(2))
    assert first != second


def test_the_key_id_does_not_reveal_the_secret():
    assert NEW_SECRET.hex()[:16] != master_key_id(NEW_SECRET)
    assert master_key_id(NEW_SECRET) != master_key_id(OLD_SECRET)


@pytest.mark.parametrize("position", ["header", "nonce", "body", "tag"])
def test_any_tampered_byte_is_detected(position):
    ring = KeyRing.of(NEW_SECRET)
    sealed = bytearray(encrypt(b"some plaintext", key_ring=ring, associated_data=WHERE))
    header_length = 2 + len(ring.current_key_id)
    offsets = {"header": header_length - 1, "nonce": header_length, "body": header_length + 12, "tag": -1}
    sealed[offsets[position]] ^= 0x01

    with pytest.raises(DecryptionError):
        decrypt(bytes(sealed), key_ring=ring, associated_data=WHERE)


def test_truncated_or_foreign_bytes_are_refused():
    ring = KeyRing.of(NEW_SECRET)
    sealed = encrypt(b"some plaintext", key_ring=ring, associated_data=WHERE)
    for damaged in (b"", b"\x01", sealed[:20], b"-----BEGIN PRIVATE KEY-----", b"\x02" + sealed[1:]):
        with pytest.raises(DecryptionError):
            decrypt(damaged, key_ring=ring, associated_data=WHERE)


def test_other_associated_data_does_not_decrypt():
    ring = KeyRing.of(NEW_SECRET)
    sealed = encrypt(b"value", key_ring=ring, associated_data=WHERE)

    with pytest.raises(DecryptionError):
        decrypt(sealed, key_ring=ring, associated_data=b"identity.signing_keys:kid-2")


def test_after_a_master_key_rotation_old_ciphertexts_decrypt_with_the_previous_secret_in_the_ring():
    sealed_before = encrypt(b"value", key_ring=KeyRing.of(OLD_SECRET), associated_data=WHERE)
    rotated = KeyRing.of(NEW_SECRET, previous_secrets=[OLD_SECRET])

    assert decrypt(sealed_before, key_ring=rotated, associated_data=WHERE) == b"value"
    moved = reencrypt(sealed_before, key_ring=rotated, associated_data=WHERE)
    assert key_id_of(moved) == master_key_id(NEW_SECRET)
    assert decrypt(moved, key_ring=KeyRing.of(NEW_SECRET), associated_data=WHERE) == b"value"
    # New data is always sealed under the current secret.
    assert key_id_of(encrypt(b"v", key_ring=rotated, associated_data=WHERE)) == master_key_id(NEW_SECRET)


def test_a_ciphertext_under_a_secret_no_longer_configured_names_its_key_id():
    sealed = encrypt(b"value", key_ring=KeyRing.of(OLD_SECRET), associated_data=WHERE)

    with pytest.raises(DecryptionError, match=master_key_id(OLD_SECRET)):
        decrypt(sealed, key_ring=KeyRing.of(NEW_SECRET), associated_data=WHERE)


def test_the_ring_comes_from_the_settings_master_secret(tmp_path):
    secret_file = tmp_path / "secret.key"
    secret_file.write_text("f" * 64 + "\n")
    ring = KeyRing.from_settings(Settings(DOCKYARD_SECRET_KEY_FILE=secret_file))

    assert ring.current_key_id == master_key_id(b"f" * 64)
    assert ring.key_ids == {master_key_id(b"f" * 64)}


def test_previous_secrets_from_the_settings_decrypt_but_never_encrypt(tmp_path):
    secret_file = tmp_path / "secret.key"
    secret_file.write_bytes(NEW_SECRET + b"\n")
    previous_file = tmp_path / "previous.keys"
    previous_file.write_bytes(OLD_SECRET + b"\n\n")
    ring = KeyRing.from_settings(
        Settings(DOCKYARD_SECRET_KEY_FILE=secret_file, DOCKYARD_PREVIOUS_SECRET_KEYS_FILE=previous_file)
    )

    assert ring.current_key_id == master_key_id(NEW_SECRET)
    assert ring.key_ids == {master_key_id(NEW_SECRET), master_key_id(OLD_SECRET)}
    sealed_before = encrypt(b"value", key_ring=KeyRing.of(OLD_SECRET), associated_data=WHERE)
    assert decrypt(sealed_before, key_ring=ring, associated_data=WHERE) == b"value"
    assert key_id_of(encrypt(b"value", key_ring=ring, associated_data=WHERE)) == master_key_id(NEW_SECRET)
