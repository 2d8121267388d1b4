"""What the gateway tests run against: a descriptor set of the contract plus the fixture services, a
real grpc.aio backend in the test's event loop (publishing the JWKS of a key the tests sign access
tokens with), and a real Envoy running the generated configuration."""

import asyncio
import datetime
import http.client
import importlib.util
import json
import pathlib
import urllib.request

import grpc
from google.api import httpbody_pb2
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_tools import protoc

from dockyard.identity.v1 import identity_pb2_grpc
from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_kit.config import GATEWAY_CREDENTIAL_HEADER
from dockyard_kit.stack.components import Envoy, free_port
from gateway.envoy import write_config
from tests.support.paths import REPO_ROOT
from tests.support.tokens import Signer

FIXTURE_PROTOS = pathlib.Path(__file__).parent / "protos"
FIXTURE_PACKAGE = "dockyard.audit.v1"
CHECKED_AT = datetime.datetime(2026, 11, 23, 8, 0, 0, 123000, tzinfo=datetime.UTC)
# Small, so that an oversized body fits in the socket buffers and the 413 is read, not a reset.
MAX_REQUEST_BYTES = 64 << 10
# Sent by a test as an HTTP header or gRPC metadata: the backend then fails the call this way.
FAIL_HEADER = "x-test-fail"
# The backend publishes this key as identity's; tests sign their access tokens with it.
SIGNER = Signer()
# The gateway's credential (DOCKYARD_GATEWAY_SECRET) in the tests' configuration.
GATEWAY_SECRET = "gateway-secret-" + "0123456789abcdef" * 2


def bearer(token: str | None = None) -> dict[str, str]:
    """An authorization header with `token`, or with a fresh valid one."""
    return {"authorization": f"Bearer {token or SIGNER.token()}"}


def build_descriptor_set(
    path: pathlib.Path, fixtures: tuple[str, ...] = ("gateway_fixture.proto",)
) -> pathlib.Path:
    """The contract's files, the fixture services (tests/gateway/protos/) and the error protos, as
    `make proto` builds them."""
    spec = importlib.util.spec_from_file_location("proto_build", REPO_ROOT / "proto" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    includes = [f"-I{d}" for d in (FIXTURE_PROTOS, *build.include_dirs())]
    code = protoc.main(
        [
            "protoc",
            *includes,
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={path}",
            *build.contract_files(),
            *fixtures,
            *build.ERROR_PROTOS,
        ]
    )
    assert code == 0, "protoc failed on the fixture protos"
    return path


def fixture_messages(descriptor_set: pathlib.Path) -> dict[str, type]:
    """Message classes of the fixture package, built from the descriptor set (no generated code)."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file:
        pool.Add(file)
    names = ("CreateWidgetRequest", "GetWidgetRequest", "WatchWidgetsRequest", "Widget")
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{FIXTURE_PACKAGE}.{name}"))
        for name in names
    }


def invalid_name_status() -> status_pb2.Status:
    """What the kit's interceptor sends for InvalidArgument("name", ...): a BadRequest detail."""
    violation = error_details_pb2.BadRequest.FieldViolation(
        field="name", description="must be 3-20 characters"
    )
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    return status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message="name: must be 3-20 characters", details=[detail]
    )


class SystemService(system_pb2_grpc.SystemServiceServicer):
    def __init__(self) -> None:
        self.request_ids: list[str] = []
        # Each call's X-Forwarded-For entries and gateway credentials, as the backend received them.
        self.forwarded: list[tuple[list[str], list[str]]] = []

    async def GetSystemStatus(self, request, context):
        entries = context.invocation_metadata()
        metadata = dict(entries)
        self.request_ids.append(metadata.get("x-request-id", ""))
        self.forwarded.append(
            (
                [value for key, value in entries if key == "x-forwarded-for"],
                [value for key, value in entries if key == GATEWAY_CREDENTIAL_HEADER],
            )
        )
        failure = metadata.get(FAIL_HEADER)
        if failure == "not_found":
            await context.abort(grpc.StatusCode.NOT_FOUND, "status page 7 not found")
        if failure == "permission_denied":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "status pages are for admins")
        if failure == "invalid_argument":
            status = invalid_name_status()
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                status.message,
                trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
            )
        answer = system_pb2.SystemStatus(
            database=system_pb2.DatabaseStatus(configured=True, initialized=False, dialect="postgresql"),
            nats=system_pb2.NatsStatus(connected=False, error="nats: no servers available"),
            services=[system_pb2.ServiceHealth(name="identity", status="SERVING")],
        )
        answer.checked_at.FromDatetime(CHECKED_AT)
        return answer


class AuthService(identity_pb2_grpc.AuthServiceServicer):
    """Identity's GetJwks, publishing SIGNER's key; counts the fetches (Envoy's)."""

    def __init__(self) -> None:
        self.jwks_fetches = 0
        self.fetched = asyncio.Event()

    async def GetJwks(self, request, context):
        self.jwks_fetches += 1
        self.fetched.set()
        return httpbody_pb2.HttpBody(content_type="application/json", data=SIGNER.jwks())


class Backend:
    """A real grpc.aio server on 127.0.0.1 serving SystemService, identity's GetJwks, the fixture
    service and grpc.health.v1 (SERVING), standing in for the identity and audit processes."""

    def __init__(self, descriptor_set: pathlib.Path) -> None:
        self.messages = fixture_messages(descriptor_set)
        self.system = SystemService()
        self.auth = AuthService()
        # The authorization metadata of each fixture-service call, as the backend received it.
        self.authorizations: list[str] = []
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.address = ""

    async def start(self) -> None:
        self.server = grpc.aio.server()
        system_pb2_grpc.add_SystemServiceServicer_to_server(self.system, self.server)
        identity_pb2_grpc.add_AuthServiceServicer_to_server(self.auth, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.server.add_generic_rpc_handlers((self._fixture_service(),))
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self.address = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.server.stop(grace=None)

    def _fixture_service(self) -> grpc.GenericRpcHandler:
        messages = self.messages

        def record(context) -> None:
            self.authorizations.append(dict(context.invocation_metadata()).get("authorization", ""))

        async def create_widget(request, context):
            record(context)
            return messages["Widget"](name=request.name, size=request.size)

        async def get_widget(request, context):
            record(context)
            return messages["Widget"](name=request.name, size=len(request.shelf))

        async def archive_widget(request, context):
            record(context)
            return messages["Widget"](name=request.name, archived=True)

        async def watch_widgets(request, context):
            record(context)
            for number in range(request.count):
                await asyncio.sleep(0.05)
                yield messages["Widget"](name=f"widget-{number}", size=number)

        def serialize(message) -> bytes:
            return message.SerializeToString()

        handlers = {
            "CreateWidget": grpc.unary_unary_rpc_method_handler(
                create_widget,
                request_deserializer=messages["CreateWidgetRequest"].FromString,
                response_serializer=serialize,
            ),
            "GetWidget": grpc.unary_unary_rpc_method_handler(
                get_widget,
                request_deserializer=messages["GetWidgetRequest"].FromString,
                response_serializer=serialize,
            ),
            "ArchiveWidget": grpc.unary_unary_rpc_method_handler(
                archive_widget,
                request_deserializer=messages["GetWidgetRequest"].FromString,
                response_serializer=serialize,
            ),
            "WatchWidgets": grpc.unary_stream_rpc_method_handler(
                watch_widgets,
                request_deserializer=messages["WatchWidgetsRequest"].FromString,
                response_serializer=serialize,
            ),
        }
        return grpc.method_handlers_generic_handler(f"{FIXTURE_PACKAGE}.GatewayFixtureService", handlers)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Gateway:
    """Envoy with the generated configuration; its output lines are kept for the access-log test."""

    def __init__(self, directory: pathlib.Path, **config) -> None:
        self.port = free_port()
        self.admin_port = free_port()
        self.config_path = write_config(
            directory / "envoy.yaml",
            listen_host="127.0.0.1",
            listen_port=self.port,
            admin_port=self.admin_port,
            **config,
        )
        self.lines: list[str] = []
        self.envoy = Envoy(
            self.config_path, self.admin_port, sink=lambda _name, line: self.lines.append(line)
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await asyncio.to_thread(self.envoy.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.envoy.stop)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        source: str = "127.0.0.1",
    ) -> Response:
        """One HTTP/1.1 request from the loopback address `source`, off the event loop (the backend
        answers on it)."""

        def send() -> Response:
            connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=10, source_address=(source, 0)
            )
            try:
                connection.request(method, path, body=body, headers=headers or {})
                answer = connection.getresponse()
                return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
            finally:
                connection.close()

        return await asyncio.to_thread(send)

    async def host_health(self, cluster: str) -> str:
        """The health flags Envoy's admin reports for the cluster's one host ("healthy" when it is)."""

        def read() -> str:
            url = f"http://127.0.0.1:{self.admin_port}/clusters"
            with urllib.request.urlopen(url, timeout=2) as answer:
                lines = answer.read().decode().splitlines()
            return next(
                line.rsplit("::", 1)[1]
                for line in lines
                if line.startswith(f"{cluster}::") and "::health_flags::" in line
            )

        return await asyncio.to_thread(read)

    async def wait_health(self, cluster: str, flags: str, within: float = 10) -> None:
        """Polls Envoy's admin until the cluster's host has these health flags (Envoy has no event)."""
        async with asyncio.timeout(within):
            while True:
                if await self.host_health(cluster) == flags:
                    return
                await asyncio.sleep(0.1)
