"""Access tokens for tests: well-formed ones signed with a key the test owns, the forgeries an
attacker tries (unsigned, HMAC-signed with a public key, edited after signing), and reading the
platform's own tokens (unverified, or verified against its JWKS)."""

import base64
import hashlib
import hmac
import json
import time
import uuid

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from dockyard_kit.auth import AccessTokenVerifier
from dockyard_kit.jwks import JwksUnavailable, parse_key_set
from tests.support.calls import call

ISSUER = "dockyard"
AUDIENCE = "dockyard"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def decode_part(token: str, index: int) -> dict:
    segment = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def claims_of(token: str) -> dict:
    return decode_part(token, 1)


def header_of(token: str) -> dict:
    return decode_part(token, 0)


class Signer:
    """An ES256 key of the test's own, publishable as a JWKS."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"test-{uuid.uuid4().hex[:12]}"
        self.key = ECKey.generate_key("P-256", parameters={"kid": self.kid}, private=True)

    def public_jwk(self) -> dict:
        return {**self.key.as_dict(private=False), "alg": "ES256", "use": "sig"}

    def jwks(self) -> bytes:
        return json.dumps({"keys": [self.public_jwk()]}).encode()

    def sign(self, claims: dict, **header) -> str:
        return jwt.encode({"alg": "ES256", "kid": self.kid, "typ": "JWT", **header}, claims, self.key)

    def token(self, **overrides) -> str:
        return self.sign(valid_claims(**overrides))


def valid_claims(**overrides) -> dict:
    """Claims as identity issues them; None as an override removes the claim."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "role": "developer",
        "scope": "read_write",
        "projects": [],
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not None}


def unsigned(claims: dict, kid: str) -> str:
    """`alg: none`, with an empty signature."""
    return f"{b64url_json({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{b64url_json(claims)}."


def hmac_signed(claims: dict, kid: str, secret: bytes) -> str:
    """HS256 keyed with something public (the key-confusion attack)."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{b64url_json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_claims(token: str, **changes) -> str:
    """The token with edited claims and its original signature."""
    header, _, signature = token.split(".")
    return f"{header}.{b64url_json({**claims_of(token), **changes})}.{signature}"


def with_flipped_signature(token: str) -> str:
    """The same header and claims with one bit of the signature changed."""
    signing_input, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{signing_input}.{b64url(bytes(raw))}"


def unverified(token: str) -> tuple[dict, dict]:
    """The header and claims of a JWT, read without checking its signature."""
    return header_of(token), claims_of(token)


def verify(token: str, document: dict) -> dict:
    """The claims of a token whose signature one of the JWKS document's keys verifies."""
    return jwt.decode(token, KeySet.import_key_set(document), algorithms=["ES256"]).claims


def jwks(stack) -> dict:
    """The platform's signing keys, as the gateway serves them."""
    status, body = call(stack, "GET", "/.well-known/jwks.json")
    assert status == 200, body
    return body


SIGNER = Signer()


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StaticKeys:
    """A KeySource over fixed keys that remembers which kids were asked for."""

    def __init__(self, *signers: Signer) -> None:
        self.keys = parse_key_set(json.dumps({"keys": [s.public_jwk() for s in signers]}).encode())
        self.asked: list[str] = []

    async def key(self, kid: str):
        self.asked.append(kid)
        return self.keys.get(kid)


class UnreachableKeys:
    async def key(self, kid: str):
        raise JwksUnavailable("identity is down")


def verifier(keys=None, **options) -> AccessTokenVerifier:
    return AccessTokenVerifier(keys or StaticKeys(SIGNER), issuer=ISSUER, audience=AUDIENCE, **options)
