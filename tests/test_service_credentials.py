"""Service identity on gRPC (issue 8): internal services (the contract's `(dockyard.api.v1.internal)`,
today ComponentService) answer only a service credential. Straight to each service's port: no
credential is UNAUTHENTICATED, a user's access token PERMISSION_DENIED, a forged, expired or
misaddressed credential UNAUTHENTICATED; a genuine one is answered. The gateway routes none of it,
and identity's status page, which asks every service, still works."""

import base64
import json
import time

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit import service_secrets
from dockyard_kit.auth import (
    INVALID_CREDENTIAL,
    MISSING_CREDENTIAL,
    SERVICE_CREDENTIAL_HEADER,
    USER_NOT_ALLOWED,
    InvalidToken,
)
from dockyard_kit.config import Settings
from dockyard_kit.registry import SERVICE_NAMES
from dockyard_kit.service_auth import ALGORITHM, LIFETIME_SECONDS, RENEW_BEFORE_SECONDS, ServiceCredentials
from tests.support.accounts import login, setup_admin
from tests.support.calls import TIMEOUT, bearer, rest
from tests.support.tokens import with_flipped_signature

SECRET = b"the platform's master secret"


def credentials(service: str, master: bytes = SECRET, previous=(), **options) -> ServiceCredentials:
    """`service`'s credentials as the bootstrap step hands them to it (its private key, every
    service's public keys)."""
    return ServiceCredentials.of(service_secrets.derive(service, master, previous), **options)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- minting and verifying, on their own -----------------------------------------------------------


def test_a_credential_names_its_caller_and_is_accepted_only_by_the_service_it_addresses():
    credential = credentials("identity").mint("projects")

    assert credentials("projects").verify(credential) == "identity"
    with pytest.raises(InvalidToken) as refused:
        credentials("audit").verify(credential)
    assert refused.value.message == INVALID_CREDENTIAL
    assert "addressed to 'projects'" in refused.value.reason


def test_a_credential_is_minted_once_and_renewed_before_it_expires():
    clock = Clock()
    identity, projects = (
        credentials("identity", clock=clock),
        credentials("projects"),
    )
    first = identity.mint("projects")

    clock.now += LIFETIME_SECONDS - RENEW_BEFORE_SECONDS - 1
    assert identity.mint("projects") == first
    clock.now += 2
    renewed = identity.mint("projects")
    assert renewed != first
    projects.clock = clock
    assert projects.verify(renewed) == "identity"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "credential expired"),
        ("from the future", "credential not valid yet"),
        ("another master secret", "credential signed with a key identity does not hold"),
        ("signed by the verifier's own key", "credential signed with a key identity does not hold"),
        ("signed by the verifier under the caller's kid", "credential signature"),
        ("tampered signature", "credential signature"),
        ("claims another caller", "credential signed with a key deployer does not hold"),
        ("alg none", "credential header refused"),
        ("not a JWS", "credential malformed"),
    ],
)
def test_a_credential_that_is_not_genuine_and_current_is_refused(case, reason):
    clock = Clock()
    verifier = credentials("projects", clock=clock)
    genuine = credentials("identity", clock=clock).mint("projects")
    header, claims, signature = genuine.split(".")
    credential = {
        "expired": credentials("identity", clock=Clock(clock.now - 120)).mint("projects"),
        "from the future": credentials("identity", clock=Clock(clock.now + 120)).mint("projects"),
        "another master secret": credentials("identity", b"a guess", clock=clock).mint("projects"),
        "signed by the verifier's own key": _signed_by("projects", _claims(genuine)),
        "signed by the verifier under the caller's kid": _signed_by(
            "projects", _claims(genuine), kid=_header(genuine)["kid"]
        ),
        "tampered signature": with_flipped_signature(genuine),
        "claims another caller": ".".join([header, _b64(_claims(genuine) | {"iss": "deployer"}), signature]),
        "alg none": ".".join([_b64({"alg": "none", "kid": _header(genuine)["kid"]}), claims, ""]),
        "not a JWS": "credential",
    }[case]

    with pytest.raises(InvalidToken) as refused:
        verifier.verify(credential)
    assert (refused.value.reason, refused.value.message) == (reason, INVALID_CREDENTIAL)


def test_after_a_rotation_credentials_under_the_previous_secret_still_verify():
    old = credentials("identity").mint("projects")
    rotated = credentials("projects", b"the new master secret", [SECRET])

    assert rotated.verify(old) == "identity"


def test_a_service_holds_its_own_signing_key_and_only_public_keys_of_the_others():
    """What the bootstrap hands projects mints only projects' credentials (the refused cases above
    show its key signing in identity's name), and carries nothing of identity's private key."""
    held = service_secrets.derive("projects", SECRET)
    identity = service_secrets.derive("identity", SECRET)
    assert held.credential_key != identity.credential_key
    assert base64.b64encode(identity.credential_key).decode() not in held.to_json()
    assert held.credential_public_keys["identity"] == identity.credential_public_keys["identity"]


def _signed_by(service: str, claims: dict, kid: str | None = None) -> str:
    """A credential with `claims` signed with `service`'s own private key (as a compromised
    `service` could), under its own key id or the one given."""
    header = {
        "alg": ALGORITHM,
        "kid": kid or _header(credentials(service).mint("audit"))["kid"],
        "typ": "JWT",
    }
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    key = Ed25519PrivateKey.from_private_bytes(service_secrets.derive(service, SECRET).credential_key)
    signature = base64.urlsafe_b64encode(key.sign(signing_input)).rstrip(b"=").decode()
    return f"{signing_input.decode()}.{signature}"


def _segment(credential: str, index: int) -> dict:
    part = credential.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _header(credential: str) -> dict:
    return _segment(credential, 0)


def _claims(credential: str) -> dict:
    return _segment(credential, 1)


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# -- the running platform, straight to each service's port ----------------------------------------


@pytest.fixture(scope="module")
def stack_credentials(stack) -> ServiceCredentials:
    """Identity's credentials, from the secrets file the stack's bootstrap step wrote for identity."""
    settings = Settings(DOCKYARD_SERVICE_SECRET_FILE=stack.data_dir / "service-secrets" / "identity.secret")
    return ServiceCredentials.from_settings(settings, "identity")


@pytest.fixture(scope="module")
def user_token(identity_channel) -> str:
    setup_admin(identity_channel, "root")
    return login(identity_channel, "root")  # a super_admin: the most a user can be


def component_status(stack, service: str, metadata=()):
    with grpc.insecure_channel(stack.addresses[service]) as channel:
        try:
            return system_pb2_grpc.ComponentServiceStub(channel).GetComponentStatus(
                system_pb2.GetComponentStatusRequest(), metadata=metadata, timeout=TIMEOUT
            )
        except grpc.RpcError as error:
            return error


def refusal(answer) -> tuple[grpc.StatusCode, str]:
    assert isinstance(answer, grpc.RpcError), f"answered: {answer}"
    return answer.code(), answer.details()


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_an_internal_service_answers_a_service_credential_only(stack, stack_credentials, user_token, service):
    assert refusal(component_status(stack, service)) == (grpc.StatusCode.UNAUTHENTICATED, MISSING_CREDENTIAL)
    assert refusal(component_status(stack, service, bearer(user_token))) == (
        grpc.StatusCode.PERMISSION_DENIED,
        USER_NOT_ALLOWED,
    )
    # A user's token that is not even genuine is no caller at all.
    assert refusal(component_status(stack, service, bearer(with_flipped_signature(user_token))))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )

    status = component_status(stack, service, stack_credentials.metadata(service))
    assert not isinstance(status, grpc.RpcError), status
    assert status.service == service


def test_forged_expired_and_misaddressed_credentials_are_unauthenticated(stack, stack_credentials):
    secret = (stack.data_dir / "secret.key").read_bytes().strip()
    forged = {
        "another master secret": credentials("identity", b"a guess").mint("projects"),
        "expired": credentials("identity", secret, clock=lambda: time.time() - 120).mint("projects"),
        "addressed to audit": stack_credentials.mint("audit"),
        "tampered": with_flipped_signature(stack_credentials.mint("projects")),
    }
    for case, credential in forged.items():
        answer = component_status(stack, "projects", ((SERVICE_CREDENTIAL_HEADER, credential),))
        assert refusal(answer) == (grpc.StatusCode.UNAUTHENTICATED, INVALID_CREDENTIAL), case


def test_the_gateway_routes_no_internal_service_even_with_a_credential(
    stack, gateway_channel, stack_credentials, user_token
):
    """With a genuine user token past Envoy's own check, and a genuine credential: no route."""
    for service in SERVICE_NAMES:
        try:
            system_pb2_grpc.ComponentServiceStub(gateway_channel).GetComponentStatus(
                system_pb2.GetComponentStatusRequest(),
                metadata=(*bearer(user_token), *stack_credentials.metadata(service)),
                timeout=TIMEOUT,
            )
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNIMPLEMENTED
            assert error.details() == "no route for /dockyard.system.v1.ComponentService/GetComponentStatus"
        else:
            raise AssertionError("the gateway routed ComponentService")


def test_the_status_page_still_hears_from_every_service(stack):
    """Identity asks every service's ComponentService with its own credential."""
    deadline = time.monotonic() + 20
    while True:
        status, body = rest(stack.port, "GET", "/v1/system/status")
        services = {entry["name"]: entry["status"] for entry in body.get("services", [])}
        if status == 200 and body["database"]["initialized"] and set(services.values()) == {"SERVING"}:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert set(services) == set(SERVICE_NAMES)
