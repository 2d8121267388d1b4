"""The command line's one connection to the platform: gRPC to the gateway (DOCKYARD_SERVER or
--server, default 127.0.0.1:8080) with the caller's access token in the `authorization` metadata.

Where the token comes from: DOCKYARD_TOKEN (an access token, used as it is, or an API token,
exchanged for an access token on every run and never written down), else the session the last
`dockyard login` stored for this server. A stored access token that has expired is refreshed with
the stored refresh token before the call; one the server still refuses (UNAUTHENTICATED) is
refreshed once and the call made again. Refresh tokens rotate on use and the server revokes a
session whose old refresh token comes back, so two commands refreshing at the same moment are
serialised by a lock on the credentials file, and the later one takes the earlier one's tokens.

Every gRPC error becomes a CliError: one line with the server's message and, for bad input, the
field the google.rpc.BadRequest detail names.
"""

import base64
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator

import grpc
from google.rpc import error_details_pb2, status_pb2

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_cli.credentials import CredentialStore, Session

DEFAULT_SERVER = "127.0.0.1:8080"
API_TOKEN_PREFIX = "dky_"
USER_AGENT = "dockyard-cli/0.1.0"
# Unary calls; streams (log tails) run as long as the deployment does.
TIMEOUT_SECONDS = 30
# An access token this close to its expiry is refreshed first rather than refused on the way.
EXPIRY_MARGIN_SECONDS = 10


class CliError(Exception):
    """A failure to report in one line, with the command's exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def violated_fields(error: grpc.RpcError) -> list[str]:
    """The fields a google.rpc.BadRequest detail of the error names."""
    fields: list[str] = []
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:  # a detail we cannot read names no field
            continue
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                fields += [violation.field for violation in bad_request.field_violations]
    return fields


def describe(error: grpc.RpcError, server: str) -> str:
    """One line for a gRPC error."""
    code, details = error.code(), (error.details() or "").strip()
    if code == grpc.StatusCode.UNAVAILABLE and ("connect" in details.lower() or not details):
        return f"cannot reach the Dockyard server at {server} (set --server or DOCKYARD_SERVER): {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the server at {server} did not answer within {TIMEOUT_SECONDS} s"
    message = details or code.name.lower().replace("_", " ")
    fields = [field for field in violated_fields(error) if not message.startswith(f"{field}:")]
    if fields:
        message += f" (field: {', '.join(fields)})"
    return message


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without checking it (the server checks); None if unreadable."""
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def expired(token: str) -> bool:
    expiry = token_expiry(token)
    return expiry is not None and expiry < time.time() + EXPIRY_MARGIN_SECONDS


class Client:
    def __init__(
        self, server: str, store: CredentialStore | None = None, env_token: str | None = None
    ) -> None:
        self.server = server
        self.store = store or CredentialStore()
        self.env_token = os.environ.get("DOCKYARD_TOKEN", "") if env_token is None else env_token
        self.channel = grpc.insecure_channel(server, options=[("grpc.primary_user_agent", USER_AGENT)])
        self._access_token = ""

    def close(self) -> None:
        self.channel.close()

    def stub(self, stub_class):
        return stub_class(self.channel)

    # -- calls ------------------------------------------------------------------------------------

    def public(self, method, request):
        """A call that needs no token (login, refresh, system status)."""
        try:
            return method(request, timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            raise CliError(describe(error, self.server)) from None

    def call(self, method, request):
        """A unary call as the signed-in caller, renewing the token once if the server refuses it."""
        try:
            return method(request, metadata=self._metadata(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED or not self._renew():
                raise self._failure(error) from None
        try:
            return method(request, metadata=self._metadata(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            raise self._failure(error) from None

    def _failure(self, error: grpc.RpcError) -> CliError:
        message = describe(error, self.server)
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            if self.env_token:
                return CliError(f"the token in DOCKYARD_TOKEN was refused: {message}")
            return CliError(f"{message} (run `dockyard login`)")
        return CliError(message)

    def stream(self, method, request) -> Iterator:
        """A server stream as the signed-in caller; a refusal before the first message renews the
        token once. The stream is cancelled if the caller stops reading (Ctrl-C included)."""
        renewed = False
        while True:
            responses = method(request, metadata=self._metadata())
            started = False
            try:
                for response in responses:
                    started = True
                    yield response
                return
            except grpc.RpcError as error:
                if started or renewed or error.code() != grpc.StatusCode.UNAUTHENTICATED or not self._renew():
                    raise self._failure(error) from None
                renewed = True
            finally:
                responses.cancel()

    # -- tokens -----------------------------------------------------------------------------------

    def _metadata(self) -> tuple:
        return (("authorization", f"Bearer {self.access_token()}"),)

    def access_token(self) -> str:
        if self._access_token:
            return self._access_token
        if self.env_token:
            self._access_token = (
                self._exchange(self.env_token)
                if self.env_token.startswith(API_TOKEN_PREFIX)
                else self.env_token
            )
            return self._access_token
        session = self.store.load(self.server)
        if session is None:
            raise CliError(f"not logged in to {self.server}: run `dockyard login` (or set DOCKYARD_TOKEN)")
        self._access_token = session.access_token
        if expired(session.access_token):
            self._refresh(session.access_token)
        return self._access_token

    def _renew(self) -> bool:
        """A fresh access token after the server refused ours; False when there is no way to one."""
        if self.env_token:
            if not self.env_token.startswith(API_TOKEN_PREFIX):
                return False  # an access token given as it is cannot be renewed
            self._access_token = self._exchange(self.env_token)
            return True
        refused = self._access_token
        self._refresh(refused)
        return self._access_token != refused

    def _exchange(self, api_token: str) -> str:
        stub = identity_pb2_grpc.AuthServiceStub(self.channel)
        try:
            answer = stub.ExchangeApiToken(
                identity_pb2.ExchangeApiTokenRequest(api_token=api_token), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            raise CliError(f"DOCKYARD_TOKEN was refused: {describe(error, self.server)}") from None
        return answer.access_token

    def _refresh(self, stale_access_token: str) -> None:
        with self._refresh_lock():
            session = self.store.load(self.server)
            if session is None:
                raise CliError(f"not logged in to {self.server}: run `dockyard login`")
            if session.access_token != stale_access_token and not expired(session.access_token):
                self._access_token = session.access_token  # another command refreshed meanwhile
                return
            if not session.refresh_token:
                raise CliError(f"your session on {self.server} has expired: run `dockyard login`")
            stub = identity_pb2_grpc.AuthServiceStub(self.channel)
            try:
                answer = stub.Refresh(
                    identity_pb2.RefreshRequest(refresh_token=session.refresh_token), timeout=TIMEOUT_SECONDS
                )
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self.store.forget(self.server)
                    raise CliError(f"your session on {self.server} has ended: run `dockyard login`") from None
                raise CliError(describe(error, self.server)) from None
            self.store.save(self.server, Session(answer.access_token, answer.refresh_token, session.username))
            self._access_token = answer.access_token

    @contextlib.contextmanager
    def _refresh_lock(self):
        self.store.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.store.directory / ".refresh.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
