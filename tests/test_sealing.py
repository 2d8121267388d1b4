"""The kit's sealing: a service's Sealer binds each value to `<service>.<table>.<column>:<row id>`
(the associated data projects' values were sealed with before sealing moved to the kit), and the
key-rotation command finds the columns a service registers."""

import base64
import uuid

import pytest

from dockyard_kit import reencrypt
from dockyard_kit.crypto import DecryptionError, KeyRing, encrypt
from dockyard_kit.sealing import SealedColumn, Sealer, registered_columns

RING = KeyRing.of(b"a master secret for the sealing tests")
ROW = uuid.UUID(int=42)


def test_a_value_sealed_before_the_move_still_opens():
    # What services/projects/domain/sealing.py stored: base64 of a ciphertext bound to this text.
    stored = base64.b64encode(
        encrypt(b"s3cret", key_ring=RING, associated_data=f"projects.env_vars.value:{ROW}".encode())
    ).decode()
    assert Sealer("projects", RING).unseal("env_vars", "value", ROW, stored) == "s3cret"


def test_a_value_opens_only_for_its_service_table_column_and_row():
    stored = Sealer("projects", RING).seal("env_vars", "value", ROW, "s3cret")
    assert Sealer("projects", RING).unseal("env_vars", "value", ROW, stored) == "s3cret"
    for service, table, column, row in (
        ("deployer", "env_vars", "value", ROW),
        ("projects", "databases", "value", ROW),
        ("projects", "env_vars", "key", ROW),
        ("projects", "env_vars", "value", uuid.UUID(int=43)),
    ):
        with pytest.raises(DecryptionError):
            Sealer(service, RING).unseal(table, column, row, stored)


def test_reseal_moves_only_values_under_an_older_key():
    old = Sealer("projects", RING).seal("env_vars", "value", ROW, "s3cret")
    rotated = Sealer(
        "projects", KeyRing.of(b"the next master secret", [b"a master secret for the sealing tests"])
    )
    moved = rotated.reseal("env_vars", "value", ROW, old)
    assert moved is not None and rotated.unseal("env_vars", "value", ROW, moved) == "s3cret"
    assert rotated.reseal("env_vars", "value", ROW, moved) is None


def test_the_command_finds_the_columns_a_service_registers():
    columns = registered_columns("projects")
    assert ("env_vars", "value") in {(sealed.table, sealed.column) for sealed in columns}
    assert all(isinstance(sealed, SealedColumn) for sealed in columns)
    assert {(sealed.table, sealed.column) for sealed in registered_columns("identity")} == {
        ("signing_keys", "private_key_encrypted")
    }
    assert registered_columns("audit") == ()
    assert {(sealed.table, sealed.column) for sealed in registered_columns("notifications")} == {
        ("channels", "secrets")
    }
    assert list(reencrypt.services_with_columns(None)) == ["identity", "projects", "notifications"]


def test_naming_a_service_without_sealed_columns_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        reencrypt.main(["--service", "audit"])
    assert exit_.value.code == 2
    assert "no encrypted columns registered by audit" in capsys.readouterr().err
