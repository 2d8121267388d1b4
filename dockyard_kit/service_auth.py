"""Service identity on gRPC: the credential one Dockyard service presents when it calls another's
internal service (the contract's `(dockyard.api.v1.internal)`, e.g. ComponentService).

A credential is a compact JWS (Ed25519, RFC 9864) in its own metadata entry,
`x-dockyard-service-credential`, so it never meets a user's `authorization: Bearer` token:
  header: alg Ed25519, kid (the id of the calling service's public key), typ JWT
  claims: iss (the calling service), aud (the service called), iat, exp (iat + 60 s)

Each service signs with a private key of its own and verifies with the public keys of all: the
bootstrap step derives the key pairs from the master secret (dockyard_kit/service_secrets.py) and
hands each service its private key and every service's public keys, so a service that verifies a
credential cannot mint one in another's name. A caller mints a credential once per service it calls
and reuses it until shortly before it expires. After a rotation of the master secret, the public
keys derived from the previous secrets still verify (DOCKYARD_PREVIOUS_SECRET_KEYS_FILE at the
bootstrap), so replicas can move to the new keys one by one.

    credentials = ServiceCredentials.from_settings(settings, "identity")
    stub.GetComponentStatus(request, metadata=credentials.metadata("projects"))
"""

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from dockyard_kit import service_secrets
from dockyard_kit.auth import (
    INVALID_CREDENTIAL,
    SERVICE_CREDENTIAL_HEADER,
    InvalidToken,
)
from dockyard_kit.config import CLOCK_LEEWAY_SECONDS, Settings

ALGORITHM = "Ed25519"
LIFETIME_SECONDS = 60
# A cached credential is replaced this long before it expires, so it never expires in flight.
RENEW_BEFORE_SECONDS = 15
MAX_CREDENTIAL_BYTES = 2048
# A service name, as the event types spell it (one lowercase subject token).
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def key_id(public_key: bytes) -> str:
    """A stable, non-secret name for a credential public key (16 hex characters)."""
    return hashlib.sha256(b"dockyard service credential key id:" + public_key).hexdigest()[:16]


def _private_jwk(seed: bytes) -> OKPKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return OKPKey.import_key(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def _public_jwk(public_key: bytes) -> OKPKey:
    public = Ed25519PublicKey.from_public_bytes(public_key)
    return OKPKey.import_key(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))


class ServiceCredentials:
    """Mints `service`'s credentials for the services it calls, and verifies the credentials of
    services calling it."""

    def __init__(
        self,
        service: str,
        private_key: bytes,
        public_keys: Mapping[str, Iterable[bytes]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`private_key`: this service's Ed25519 key (raw, 32 bytes); `public_keys`: service -> the
        public keys (raw) its credentials may be signed with."""
        if not _SERVICE_NAME.fullmatch(service):
            raise ValueError(f"not a service name: {service!r}")
        self.service = service
        self.clock = clock
        self._signing_key = _private_jwk(private_key)
        self._current_kid = key_id(service_secrets.credential_public_key(private_key))
        # (calling service, key id) -> its public key
        self._verifying_keys = {
            (caller, key_id(key)): _public_jwk(key) for caller, keys in public_keys.items() for key in keys
        }
        self._minted: dict[str, tuple[str, float]] = {}

    @classmethod
    def of(cls, secrets: service_secrets.ServiceSecrets, **options) -> "ServiceCredentials":
        return cls(secrets.service, secrets.credential_key, secrets.credential_public_keys, **options)

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> "ServiceCredentials":
        return cls.of(service_secrets.for_service(settings, service))

    def mint(self, audience: str) -> str:
        """A credential of this service for calling `audience`; the cached one while it lasts."""
        now = self.clock()
        cached = self._minted.get(audience)
        if cached is not None and cached[1] - RENEW_BEFORE_SECONDS > now:
            return cached[0]
        issued = int(now)
        expires = issued + LIFETIME_SECONDS
        claims = {"iss": self.service, "aud": audience, "iat": issued, "exp": expires}
        token = jws.serialize_compact(
            {"alg": ALGORITHM, "kid": self._current_kid, "typ": "JWT"},
            json.dumps(claims, separators=(",", ":")).encode(),
            self._signing_key,
            algorithms=[ALGORITHM],
        )
        self._minted[audience] = (token, expires)
        return token

    def metadata(self, audience: str) -> tuple[tuple[str, str], ...]:
        """gRPC call metadata carrying a credential for calling `audience`."""
        return ((SERVICE_CREDENTIAL_HEADER, self.mint(audience)),)

    def verify(self, token: str) -> str:
        """The calling service named by a genuine, current credential addressed to this service;
        InvalidToken (UNAUTHENTICATED) otherwise."""
        if len(token) > MAX_CREDENTIAL_BYTES or token.count(".") != 2:
            raise InvalidToken("credential malformed", INVALID_CREDENTIAL)
        header_segment, payload_segment, _ = token.split(".")
        header, claims = _json_object(header_segment), _json_object(payload_segment)
        if header.get("alg") != ALGORITHM or set(header) - {"alg", "kid", "typ"}:
            raise InvalidToken("credential header refused", INVALID_CREDENTIAL)
        kid, caller = header.get("kid"), claims.get("iss")
        if not isinstance(caller, str) or not _SERVICE_NAME.fullmatch(caller):
            raise InvalidToken("credential issuer is not a service name", INVALID_CREDENTIAL)
        verifying_key = self._verifying_keys.get((caller, kid))
        if verifying_key is None:
            raise InvalidToken(f"credential signed with a key {caller} does not hold", INVALID_CREDENTIAL)
        try:
            jws.deserialize_compact(token, verifying_key, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            raise InvalidToken("credential signature", INVALID_CREDENTIAL) from None
        if claims.get("aud") != self.service:
            raise InvalidToken(f"credential addressed to {str(claims.get('aud'))[:64]!r}", INVALID_CREDENTIAL)
        issued, expires, now = claims.get("iat"), claims.get("exp"), self.clock()
        if (
            type(issued) is not int
            or type(expires) is not int
            or not issued < expires <= issued + LIFETIME_SECONDS
        ):
            raise InvalidToken("credential lifetime out of bounds", INVALID_CREDENTIAL)
        if issued > now + CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("credential not valid yet", INVALID_CREDENTIAL)
        if expires <= now - CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("credential expired", INVALID_CREDENTIAL)
        return caller


def _json_object(segment: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidToken("credential is not base64url JSON", INVALID_CREDENTIAL) from None
    if not isinstance(value, dict):
        raise InvalidToken("credential part is not a JSON object", INVALID_CREDENTIAL)
    return value
