"""Reading the contract: the gRPC services of the descriptor set `make proto` builds, with the facts
their options state (which process serves each, internal or routed, which methods are public, their
google.api.http rules, which stream).

The descriptor set is read into a pool of its own, so nothing here needs the generated code: the
gateway generator runs without `gen/` on the path, and the kit asks it which gRPC services a process
serves (`grpc_services_of`).
"""

import dataclasses
import pathlib

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DESCRIPTOR_SET = REPO_ROOT / "gen" / "dockyard.pb"
CONTRACT_PACKAGE_PREFIX = "dockyard."


@dataclasses.dataclass(frozen=True)
class HttpBinding:
    """One google.api.http rule (or additional binding) of a method."""

    verb: str  # GET, POST, ... as HTTP sends it
    template: str  # e.g. /v1/users/{user_id}:disable
    body: str = ""  # the request field the HTTP body carries: "*" (all the rest), a field's name, "" none


@dataclasses.dataclass(frozen=True)
class PublicMethod:
    """A method marked (dockyard.api.v1.public): callable without an access token."""

    grpc_path: str  # /<package>.<Service>/<Method>
    http: tuple[HttpBinding, ...]


@dataclasses.dataclass(frozen=True)
class Method:
    """One method of a gRPC service, as the OpenAPI document describes it."""

    name: str
    input_type: str  # the request message's full name, e.g. dockyard.identity.v1.GetUserRequest
    output_type: str
    server_streaming: bool
    public: bool
    http: tuple[HttpBinding, ...]


@dataclasses.dataclass(frozen=True)
class GrpcService:
    """One gRPC service of the contract."""

    full_name: str  # e.g. dockyard.system.v1.SystemService
    # The Dockyard service process (identity, projects, ...) that implements it; "" only for an
    # internal service every process serves (the kit's ComponentService).
    served_by: str
    internal: bool
    has_http_rules: bool
    server_streaming_methods: tuple[str, ...]
    public_methods: tuple[PublicMethod, ...] = ()
    methods: tuple[Method, ...] = ()

    @property
    def path_prefix(self) -> str:
        """gRPC requests (and transcoded HTTP requests) carry the path /<package>.<Service>/<Method>."""
        return f"/{self.full_name}/"


class ContractError(ValueError):
    """The contract breaks a rule the platform relies on; the message names the service."""


def read_contract(descriptor_set: pathlib.Path = DESCRIPTOR_SET) -> list[GrpcService]:
    """Every gRPC service of the `dockyard.*` packages in the descriptor set."""
    files = descriptor_pb2.FileDescriptorSet.FromString(pathlib.Path(descriptor_set).read_bytes()).file
    options = _Options(files)
    services = []
    for file in files:
        if not file.package.startswith(CONTRACT_PACKAGE_PREFIX):
            continue
        for service in file.service:
            full_name = f"{file.package}.{service.name}"
            service_options = options.of_service(service.options)
            served_by = service_options.Extensions[options.served_by]
            internal = service_options.Extensions[options.internal]
            if not served_by and not internal:
                raise ContractError(
                    f"{full_name} does not say which process serves it: set (dockyard.api.v1.served_by)"
                )
            public = []
            for method in service.method:
                method_options = options.of_method(method.options)
                if method_options.Extensions[options.public]:
                    public.append(
                        PublicMethod(f"/{full_name}/{method.name}", options.http_bindings(method_options))
                    )
            services.append(
                GrpcService(
                    full_name=full_name,
                    served_by=served_by,
                    internal=internal,
                    has_http_rules=any(
                        options.http_bindings(options.of_method(m.options)) for m in service.method
                    ),
                    server_streaming_methods=tuple(m.name for m in service.method if m.server_streaming),
                    public_methods=tuple(public),
                    methods=tuple(options.method(m) for m in service.method),
                )
            )
    return services


def grpc_services_of(service: str, descriptor_set: pathlib.Path = DESCRIPTOR_SET) -> list[str]:
    """The full names of the gRPC services the contract says `service` serves (served_by)."""
    return [s.full_name for s in read_contract(descriptor_set) if s.served_by == service]


class _Options:
    """The contract's options, read with the descriptor set's own option messages and extensions."""

    def __init__(self, files) -> None:
        pool = descriptor_pool.DescriptorPool()
        for file in files:
            pool.Add(file)
        self.served_by = pool.FindExtensionByName("dockyard.api.v1.served_by")
        self.internal = pool.FindExtensionByName("dockyard.api.v1.internal")
        self.public = pool.FindExtensionByName("dockyard.api.v1.public")
        self.http = pool.FindExtensionByName("google.api.http")
        self._service_options = message_factory.GetMessageClass(self.served_by.containing_type)
        self._method_options = message_factory.GetMessageClass(self.public.containing_type)
        message_factory.GetMessageClass(self.http.message_type)

    def of_service(self, options: descriptor_pb2.ServiceOptions):
        return self._service_options.FromString(options.SerializeToString())

    def of_method(self, options: descriptor_pb2.MethodOptions):
        return self._method_options.FromString(options.SerializeToString())

    def method(self, method: descriptor_pb2.MethodDescriptorProto) -> Method:
        method_options = self.of_method(method.options)
        return Method(
            name=method.name,
            input_type=method.input_type.lstrip("."),
            output_type=method.output_type.lstrip("."),
            server_streaming=method.server_streaming,
            public=method_options.Extensions[self.public],
            http=self.http_bindings(method_options),
        )

    def http_bindings(self, method_options) -> tuple[HttpBinding, ...]:
        if not method_options.HasExtension(self.http):
            return ()
        rule = method_options.Extensions[self.http]
        bindings = []
        for binding in (rule, *rule.additional_bindings):
            pattern = binding.WhichOneof("pattern")
            if pattern == "custom":
                bindings.append(HttpBinding(binding.custom.kind.upper(), binding.custom.path, binding.body))
            elif pattern is not None:
                bindings.append(HttpBinding(pattern.upper(), getattr(binding, pattern), binding.body))
        return tuple(bindings)
