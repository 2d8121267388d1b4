"""Encryption at rest (dockyard_kit.crypto): AES-256-GCM under keys derived from each service's own
key, itself derived from the master secret (dockyard_kit.service_secrets)."""

import uuid

import pytest

from dockyard_kit import service_secrets
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
from dockyard_kit.sealing import Sealer

OLD_SECRET = b"0123456789abcdef0123456789abcdef-old"
NEW_SECRET = b"0123456789abcdef0123456789abcdef-new"
WHERE = b"identity.signing_keys:kid-1"
ROW_ID = uuid.UUID(int=7)


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


def test_a_services_ring_derives_from_the_master_secret_and_the_services_name(tmp_path):
    secret_file = tmp_path / "secret.key"
    secret_file.write_text("f" * 64 + "\n")
    ring = service_secrets.for_service(Settings(DOCKYARD_SECRET_KEY_FILE=secret_file), "projects").key_ring()

    own_key = service_secrets.sealing_root_key(b"f" * 64, "projects")
    assert ring.current_key_id == master_key_id(own_key)
    assert ring.key_ids == {master_key_id(own_key)}
    assert master_key_id(b"f" * 64) not in ring.key_ids  # the master secret itself seals nothing


def test_previous_secrets_from_the_settings_decrypt_but_never_encrypt(tmp_path):
    secret_file = tmp_path / "secret.key"
    secret_file.write_bytes(NEW_SECRET + b"\n")
    previous_file = tmp_path / "previous.keys"
    previous_file.write_bytes(OLD_SECRET + b"\n\n")
    settings = Settings(
        DOCKYARD_SECRET_KEY_FILE=secret_file, DOCKYARD_PREVIOUS_SECRET_KEYS_FILE=previous_file
    )
    ring = service_secrets.for_service(settings, "projects").key_ring()

    new_key, old_key = (
        service_secrets.sealing_root_key(secret, "projects") for secret in (NEW_SECRET, OLD_SECRET)
    )
    assert ring.current_key_id == master_key_id(new_key)
    assert ring.key_ids == {master_key_id(new_key), master_key_id(old_key)}
    sealed_before = encrypt(b"value", key_ring=KeyRing.of(old_key), associated_data=WHERE)
    assert decrypt(sealed_before, key_ring=ring, associated_data=WHERE) == b"value"
    assert key_id_of(encrypt(b"value", key_ring=ring, associated_data=WHERE)) == master_key_id(new_key)


def test_one_services_key_material_opens_nothing_another_sealed():
    """Projects' ring cannot open identity's signing keys nor identity's projects' secrets, even with
    the right associated data; what each service is handed carries no key of the other."""
    identity = service_secrets.derive("identity", NEW_SECRET)
    projects = service_secrets.derive("projects", NEW_SECRET)
    signing_key_where = b"identity.signing_keys.private_key_encrypted:kid-1"
    signing_key = encrypt(b"PKCS#8", key_ring=identity.key_ring(), associated_data=signing_key_where)
    env_var = Sealer("projects", projects.key_ring()).seal("env_vars", "value", ROW_ID, "s3cret")

    with pytest.raises(DecryptionError, match="not configured"):
        decrypt(signing_key, key_ring=projects.key_ring(), associated_data=signing_key_where)
    with pytest.raises(DecryptionError, match="not configured"):
        Sealer("projects", identity.key_ring()).unseal("env_vars", "value", ROW_ID, env_var)
    assert decrypt(signing_key, key_ring=identity.key_ring(), associated_data=signing_key_where) == b"PKCS#8"
    assert not set(identity.sealing_keys) & set(projects.sealing_keys)
    assert NEW_SECRET.hex() not in projects.to_json() and NEW_SECRET.decode() not in projects.to_json()
