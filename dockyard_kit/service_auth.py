"""Service identity on gRPC: the credential one Dockyard service presents when it calls another's
internal service (the contract's `(dockyard.api.v1.internal)`, e.g. ComponentService).

A credential is a compact JWS (HS256) in its own metadata entry, `x-dockyard-service-credential`,
so it never meets a user's `authorization: Bearer` token:
  header: alg HS256, kid (the id of the master secret it was signed under), typ JWT
  claims: iss (the calling service), aud (the service called), iat, exp (iat + 60 s)

Its key is derived from the platform's master secret, per calling service:
HKDF-SHA256(master secret, info = "dockyard service credential v1:" + service). Every replica of
every service holds the master secret, so every replica can mint its own service's credentials and
verify anyone's, with nothing to distribute, store or rotate beyond the master secret itself. A
caller mints a credential once per service it calls and reuses it until shortly before it expires.
After a rotation of the master secret, credentials signed under a previous secret are still
accepted (DOCKYARD_PREVIOUS_SECRET_KEYS_FILE), so replicas can move to the new secret one by one.

    credentials = ServiceCredentials.from_settings(settings, "identity")
    stub.GetComponentStatus(request, metadata=credentials.metadata("projects"))
"""

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from dockyard_kit.auth import (
    INVALID_CREDENTIAL,
    SERVICE_CREDENTIAL_HEADER,
    InvalidToken,
)
from dockyard_kit.config import CLOCK_LEEWAY_SECONDS, Settings
from dockyard_kit.crypto import master_key_id

ALGORITHM = "HS256"
LIFETIME_SECONDS = 60
# A cached credential is replaced this long before it expires, so it never expires in flight.
RENEW_BEFORE_SECONDS = 15
MAX_CREDENTIAL_BYTES = 2048
_KDF_INFO = b"dockyard service credential v1:"
# A service name, as the event types spell it (one lowercase subject token).
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def credential_key(master_secret: bytes, service: str) -> OctKey:
    """The key `service` signs its credentials with under one master secret."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO + service.encode()).derive(
        master_secret
    )
    return OctKey.import_key(derived)


class ServiceCredentials:
    """Mints `service`'s credentials for the services it calls, and verifies the credentials of
    services calling it."""

    def __init__(
        self,
        service: str,
        current_secret: bytes,
        previous_secrets: Iterable[bytes] = (),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _SERVICE_NAME.fullmatch(service):
            raise ValueError(f"not a service name: {service!r}")
        if not current_secret:
            raise ValueError("the master secret is empty")
        self.service = service
        self.clock = clock
        self._current_kid = master_key_id(current_secret)
        self._secrets = {master_key_id(secret): secret for secret in [current_secret, *previous_secrets]}
        self._keys: dict[tuple[str, str], OctKey] = {}
        self._minted: dict[str, tuple[str, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> "ServiceCredentials":
        return cls(service, settings.secret_key(), settings.previous_secret_keys())

    def _key(self, kid: str, service: str) -> OctKey:
        if (kid, service) not in self._keys:
            self._keys[kid, service] = credential_key(self._secrets[kid], service)
        return self._keys[kid, service]

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
            self._key(self._current_kid, self.service),
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
        if kid not in self._secrets:
            raise InvalidToken("credential signed under an unknown master secret", INVALID_CREDENTIAL)
        if not isinstance(caller, str) or not _SERVICE_NAME.fullmatch(caller):
            raise InvalidToken("credential issuer is not a service name", INVALID_CREDENTIAL)
        try:
            jws.deserialize_compact(token, self._key(kid, caller), algorithms=[ALGORITHM])
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
