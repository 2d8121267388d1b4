"""The one server interceptor every service runs: request ids, authentication, error mapping, JSON
access logs and Prometheus metrics, in that order of concern, around every RPC."""

import asyncio
import contextlib
import contextvars
import dataclasses
import hmac
import logging
import time
import uuid

import asyncpg
import grpc
from google.protobuf.message import DecodeError
from grpc.aio import AbortError
from prometheus_client import Counter, Histogram

from dockyard_kit import db, errors, logs
from dockyard_kit.auth import Authenticator, InvalidToken, current_caller
from dockyard_kit.config import GATEWAY_CREDENTIAL_HEADER

log = logging.getLogger("dockyard.rpc")

RPC_TOTAL = Counter("dockyard_grpc_requests_total", "RPCs handled", ["service", "method", "code"])
RPC_SECONDS = Histogram(
    "dockyard_grpc_request_duration_seconds",
    "RPC latency",
    ["service", "method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Probes and reflection are counted but not written to the access log (Envoy checks every 2 s).
_QUIET_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


@dataclasses.dataclass(frozen=True)
class RequestInfo:
    """Who and where a request came from; events copy it into their RequestMetadata."""

    request_id: str
    method: str
    client_ip: str = ""
    user_agent: str = ""


current_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "current_request", default=None
)


def from_the_gateway(credential: str, gateway_secret: bytes) -> bool:
    """Whether a request carries the gateway's credential (compared in constant time)."""
    return bool(gateway_secret and credential) and hmac.compare_digest(credential.encode(), gateway_secret)


def client_address(forwarded_for: str, peer_ip: str, *, from_gateway: bool) -> str:
    """The client's address: X-Forwarded-For only when the gateway forwarded the request (Envoy sets
    that header to the address it saw, whatever the client sent), otherwise the peer's address."""
    if from_gateway and forwarded_for:
        return forwarded_for.rsplit(",", 1)[-1].strip() or peer_ip
    return peer_ip


def _request_info(
    method: str, context: grpc.aio.ServicerContext, invocation_metadata, gateway_secret: bytes
) -> RequestInfo:
    metadata = {key: value for key, value in invocation_metadata if isinstance(value, str)}
    client_ip = client_address(
        metadata.get("x-forwarded-for", ""),
        _peer_ip(context.peer() or ""),
        from_gateway=from_the_gateway(metadata.get(GATEWAY_CREDENTIAL_HEADER, ""), gateway_secret),
    )
    return RequestInfo(
        request_id=metadata.get("x-request-id") or str(uuid.uuid4()),
        method=method,
        client_ip=client_ip,
        user_agent=metadata.get("x-user-agent") or metadata.get("user-agent", ""),
    )


def _peer_ip(peer: str) -> str:
    # "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555"
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return ""


class UnparsableRequest(errors.DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


def _parsed(request, deserialize):
    """The request message from its bytes; `deserialize` None when gRPC already parsed it."""
    if deserialize is None:
        return request
    try:
        return deserialize(request)
    except DecodeError as exc:
        raise UnparsableRequest(f"the request is not a valid message of its type: {exc}") from None


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, service: str, pool_provider, authenticator: Authenticator, gateway_secret: bytes = b""
    ) -> None:
        self.service = service
        # Empty: no request is taken to come from the gateway (config.Settings.gateway_secret).
        self.gateway_secret = gateway_secret
        # The pool is created after the server starts listening, hence a provider, not a pool.
        self.pool_provider = pool_provider
        self.authenticator = authenticator
        self.constraint_fields = errors.ConstraintFields(service)
        self._children: dict[tuple[str, grpc.StatusCode], tuple] = {}
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        # Calls ended and not yet accounted for: (info, code, seconds taken, when it ended).
        self._finished: list[tuple[RequestInfo, grpc.StatusCode, float, float]] = []
        self._accounting_on: asyncio.AbstractEventLoop | None = None  # the loop that will account them

    async def intercept_service(self, continuation, handler_call_details):
        # A method's wrapped handler is made once: the servicers do not change while serving.
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            wrapped = self._wrapped[method] = self._wrap(handler, method)
        return wrapped

    def _wrap(self, handler, method: str):
        # A unary request is parsed here, within the call's handling, not by gRPC, which would answer
        # UNKNOWN for bytes that do not parse (Envoy's transcoder writes such bytes for some bad JSON,
        # e.g. an object as a string map's value): bad input is INVALID_ARGUMENT.
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap_unary(self, behaviour, method: str, deserialize=None):
        async def wrapper(request, context):
            async with self._handling(method, context):
                return await behaviour(_parsed(request, deserialize), context)

        return wrapper

    def _wrap_stream(self, behaviour, method: str, deserialize=None):
        async def wrapper(request, context):
            async with self._handling(method, context):
                async for item in behaviour(_parsed(request, deserialize), context):
                    yield item

        return wrapper

    @contextlib.asynccontextmanager
    async def _handling(self, method: str, context):
        """Around one RPC: authenticate, turn any failure into its status, and account for it."""
        # Read once: each call of invocation_metadata() builds it anew.
        metadata = context.invocation_metadata() or ()
        info = self._begin(method, context, metadata)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            await self._authenticate(metadata, info)
            yield
            code = context.code() or grpc.StatusCode.OK
        except AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN  # the handler chose its own status
            raise
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            error = await self._to_domain_error(exc, info)
            code = error.code
            await self._abort(error, context, info)  # raises AbortError, which ends the RPC
        finally:
            self._finish(info, code, started)

    def _begin(self, method: str, context, metadata) -> RequestInfo:
        info = _request_info(method, context, metadata, self.gateway_secret)
        current_request.set(info)
        return info

    async def _authenticate(self, metadata, info: RequestInfo) -> None:
        """Puts the verified caller in `current_caller`; a missing, invalid or revoked token, or an
        internal service's missing or invalid service credential, raises UNAUTHENTICATED before the
        handler runs. A public method's caller is the token's when a valid one comes along, else None."""
        caller = None
        try:
            if self.authenticator.requires_service_credential(info.method):
                await self.authenticator.authenticate_service(metadata)
            elif self.authenticator.requires_token(info.method):
                caller = await self.authenticator.authenticate(metadata)
            else:
                caller = await self.authenticator.optional_caller(metadata)
        except InvalidToken as exc:
            log.info(
                "credentials refused",
                extra={"request_id": info.request_id, "method": info.method, "reason": exc.reason},
            )
            raise
        current_caller.set(caller)

    async def _abort(self, error: errors.DomainError, context, info: RequestInfo) -> None:
        """Ends the RPC with the error's status, google.rpc.Status details in the trailer."""
        trailer = errors.status_details(error.code, error.message, error.details())
        await context.abort(
            error.code,
            error.message,
            trailing_metadata=(("grpc-status-details-bin", trailer), ("x-request-id", info.request_id)),
        )

    async def _to_domain_error(self, exc: Exception, info: RequestInfo) -> errors.DomainError:
        if isinstance(exc, errors.DomainError):
            return exc
        if isinstance(exc, asyncpg.PostgresError):
            mapped = await errors.from_database_error(exc, self.pool_provider(), self.constraint_fields)
            if mapped is not None:
                return mapped
        if isinstance(exc, db.DATABASE_UNAVAILABLE):
            log.warning(
                "dependency unavailable",
                extra={"request_id": info.request_id, "method": info.method, "error": type(exc).__name__},
            )
            return errors.Unavailable("a dependency is not available; retry shortly")
        log.exception("unexpected error", extra={"request_id": info.request_id, "method": info.method})
        return errors.internal(info.request_id)

    def _finish(self, info: RequestInfo, code: grpc.StatusCode, started: float) -> None:
        # Accounted for once the response is on its way (the client does not wait for its log
        # line), and for all the calls that ended in one pass of the loop at once.
        loop = asyncio.get_running_loop()
        if self._accounting_on is not loop:  # (a loop that ended first leaves its calls to the next)
            self._accounting_on = loop
            loop.call_soon(self._account)
        self._finished.append((info, code, time.perf_counter() - started, time.time()))

    def _account(self) -> None:
        finished, self._finished, self._accounting_on = self._finished, [], None
        lines: list[logs.AccessEntry] = []
        for info, code, elapsed, ended in finished:
            counted, timed = self._metrics(info.method, code)
            counted.inc()
            timed.observe(elapsed)
            if not info.method.startswith(_QUIET_PREFIXES):
                lines.append(
                    (ended, info.method, code.name, round(elapsed * 1000, 2), info.request_id, info.client_ip)
                )
        if lines:
            logs.access_lines(log, lines)

    def _metrics(self, method: str, code: grpc.StatusCode):
        """The counter and histogram of (method, code), looked up once: `labels()` takes a lock."""
        key = (method, code)
        children = self._children.get(key)
        if children is None:
            labels = (self.service, method, code.name)
            children = self._children[key] = (RPC_TOTAL.labels(*labels), RPC_SECONDS.labels(*labels))
        return children
