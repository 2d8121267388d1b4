"""What one service holds at run time instead of the platform's master secret and the database's
administrative login: its own role's password, its own sealing keys, its own service-credential
signing key and the public keys of every service's credentials.

`python -m dockyard_kit.bootstrap` derives them from the master secret and writes each service's to
`<dir>/<service>.secret` (JSON, readable by the owner alone); the service reads its file from
DOCKYARD_SERVICE_SECRET_FILE. Derivation, all HKDF-SHA256 over a master secret:

  sealing root key     info "dockyard service key v1:" + service     (its KeyRing's secret)
  credential key seed  info "dockyard service credential v2:" + service  (an Ed25519 private key)
  role password        HMAC-SHA256(master, "dockyard-db-role:" + service)  (as before the bootstrap)

so one service's material opens nothing of another's, and the master cannot be recovered from it.
After a rotation, the material derived from the previous master secrets is included too (sealing
keys that only decrypt, public keys that still verify) until they leave
DOCKYARD_PREVIOUS_SECRET_KEYS_FILE.

Tools run by an operator with the master secret (re-encryption, the event relay, tests) get the same
material derived on the spot: `for_service(settings, service)`.
"""

import base64
import dataclasses
import json
import os
import pathlib
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dockyard_kit import registry
from dockyard_kit.config import ConfigError, Settings, role_password
from dockyard_kit.crypto import KeyRing

FORMAT = "dockyard service secrets v1"
_SEALING_INFO = b"dockyard service key v1:"
_CREDENTIAL_INFO = b"dockyard service credential v2:"


def _hkdf(master_secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_secret)


def sealing_root_key(master_secret: bytes, service: str) -> bytes:
    """The secret of `service`'s key ring under one master secret."""
    return _hkdf(master_secret, _SEALING_INFO + service.encode())


def credential_seed(master_secret: bytes, service: str) -> bytes:
    """The Ed25519 private key (raw, 32 bytes) `service` signs its credentials with."""
    return _hkdf(master_secret, _CREDENTIAL_INFO + service.encode())


def credential_public_key(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


@dataclasses.dataclass(frozen=True)
class ServiceSecrets:
    service: str
    database_password: str
    # The current sealing root key first, then those of previous master secrets (decrypt only).
    sealing_keys: tuple[bytes, ...] = dataclasses.field(repr=False)
    credential_key: bytes = dataclasses.field(repr=False)
    # service -> its credential public keys (raw Ed25519), the current one first.
    credential_public_keys: Mapping[str, tuple[bytes, ...]] = dataclasses.field(default_factory=dict)

    def key_ring(self) -> KeyRing:
        """The ring the service seals its secrets with (dockyard_kit.sealing, identity's signing keys)."""
        return KeyRing.of(self.sealing_keys[0], self.sealing_keys[1:])

    def to_json(self) -> str:
        encode = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
        return json.dumps(
            {
                "format": FORMAT,
                "service": self.service,
                "database_user": f"dockyard_{self.service}",
                "database_password": self.database_password,
                "sealing_keys": [encode(key) for key in self.sealing_keys],
                "credential_key": encode(self.credential_key),
                "credential_public_keys": {
                    name: [encode(key) for key in keys] for name, keys in self.credential_public_keys.items()
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> "ServiceSecrets":
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT!r} file")
        decode = base64.b64decode
        return cls(
            service=data["service"],
            database_password=data["database_password"],
            sealing_keys=tuple(decode(key) for key in data["sealing_keys"]),
            credential_key=decode(data["credential_key"]),
            credential_public_keys={
                name: tuple(decode(key) for key in keys)
                for name, keys in data["credential_public_keys"].items()
            },
        )

    def write(self, path: pathlib.Path) -> None:
        """Written whole and readable by the owner alone, then renamed over any previous file."""
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(self.to_json() + "\n")
        partial.replace(path)


def derive(
    service: str,
    master_secret: bytes,
    previous_secrets: Iterable[bytes] = (),
    services: Iterable[str] = registry.SERVICE_NAMES,
) -> ServiceSecrets:
    """`service`'s material under the current master secret (and the previous ones), with the
    credential public keys of `services` (and of `service` itself)."""
    if not master_secret:
        raise ValueError("the master secret is empty")
    masters = [master_secret, *previous_secrets]
    verifiers = dict.fromkeys([*services, service])
    return ServiceSecrets(
        service=service,
        database_password=role_password(master_secret, service),
        sealing_keys=tuple(sealing_root_key(master, service) for master in masters),
        credential_key=credential_seed(master_secret, service),
        credential_public_keys={
            name: tuple(credential_public_key(credential_seed(master, name)) for master in masters)
            for name in verifiers
        },
    )


def resealing_key_ring(settings: Settings, service: str) -> KeyRing:
    """What re-sealing `service`'s values needs (the bootstrap step, `python -m dockyard_kit.reencrypt`):
    its current sealing key, those of the previous master secrets, and the master secrets themselves,
    under which values were sealed before each service had keys of its own."""
    master, previous = settings.secret_key(), settings.previous_secret_keys()
    own = derive(service, master, previous).sealing_keys
    return KeyRing.of(own[0], [*own[1:], master, *previous])


def load(path: pathlib.Path, service: str) -> ServiceSecrets:
    """A service's file; ConfigError naming DOCKYARD_SERVICE_SECRET_FILE when it is not `service`'s."""
    try:
        secrets = ServiceSecrets.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"DOCKYARD_SERVICE_SECRET_FILE: cannot read {path}: {exc}") from None
    if secrets.service != service:
        raise ConfigError(
            f"DOCKYARD_SERVICE_SECRET_FILE: {path} holds the {secrets.service} service's secrets, not {service}'s"
        )
    return secrets


def required(settings: Settings, service: str) -> ServiceSecrets:
    """What a service process starts with: its own file, never the master secret."""
    if settings.DOCKYARD_SERVICE_SECRET_FILE is None:
        raise ConfigError(
            f"DOCKYARD_SERVICE_SECRET_FILE is not set: the {service} service needs its own secrets file, which"
            " `python -m dockyard_kit.bootstrap --secrets-dir DIR` writes as DIR/"
            f"{service}.secret (services do not read the master secret or the administrative database login)"
        )
    return load(settings.DOCKYARD_SERVICE_SECRET_FILE, service)


def for_service(settings: Settings, service: str) -> ServiceSecrets:
    """`service`'s material: from DOCKYARD_SERVICE_SECRET_FILE when set (a service), else derived from
    the master secret the settings hold (the bootstrap and an operator's tools)."""
    if settings.DOCKYARD_SERVICE_SECRET_FILE is not None:
        return load(settings.DOCKYARD_SERVICE_SECRET_FILE, service)
    return derive(service, settings.secret_key(), settings.previous_secret_keys())
