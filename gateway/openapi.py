"""The OpenAPI 3.1 document of the HTTP/JSON API, built from the contract (`dockyard_kit.contract`) like
Envoy's configuration, and describing what Envoy's transcoder makes of it.

Every transcoded method's google.api.http rules become operations (an additional binding is one more
operation); path variables, query parameters (the request's fields not bound by the path or the body,
as grpc-json transcoding maps them) and the body come from the rule, schemas from the messages, and
descriptions from the proto comments. JSON is what the transcoder prints with the gateway's print
options (`gateway.envoy.JSON_PRINT_OPTIONS`): field names, enums as their names, 64-bit integers as
strings, the well-known types in their JSON forms. Errors are the google.rpc.Status JSON that
`convert_grpc_status` and the gateway's local replies render. `make proto` writes gen/openapi.json,
and the gateway serves it at GET /openapi.json.
"""

import argparse
import json
import pathlib
import re
import sys
import tomllib

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from dockyard_kit.contract import DESCRIPTOR_SET, REPO_ROOT, GrpcService, HttpBinding, Method, read_contract

# How the gateway's transcoder prints JSON (gateway/envoy.py configures it with these), which the
# document describes.
JSON_PRINT_OPTIONS = {
    "preserve_proto_field_names": True,
    # false, 0 and "" appear in responses rather than vanishing.
    "always_print_primitive_fields": True,
    # Server-streaming methods (log tails) reach browsers and curl as server-sent events.
    "stream_sse_style_delimited": True,
}
DOCUMENT = DESCRIPTOR_SET.parent / "openapi.json"
DOCUMENT_PATH = "/openapi.json"  # where the gateway serves it
TITLE = "Dockyard API"
BEARER = "bearer"
JSON_MEDIA_TYPE = "application/json"
# google.api.HttpBody is sent as it is, with the content type the service chose.
HTTP_BODY = "google.api.HttpBody"
ANY_MEDIA_TYPE = "*/*"
# Server-streaming methods reach HTTP clients as server-sent events (stream_sse_style_delimited).
EVENT_STREAM_MEDIA_TYPE = "text/event-stream"
INT64_PATTERN = "^-?[0-9]+$"
UINT64_PATTERN = "^[0-9]+$"
DURATION_PATTERN = r"^-?[0-9]+(\.[0-9]{1,9})?s$"
TEMPLATE_VARIABLE = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")
COMPONENTS = "#/components/schemas/"
STATUS_SCHEMA = "google.rpc.Status"

_FD = descriptor.FieldDescriptor
_INT32 = {"type": "integer", "format": "int32", "minimum": -(1 << 31), "maximum": (1 << 31) - 1}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": (1 << 32) - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": INT64_PATTERN}
_UINT64 = {"type": "string", "format": "uint64", "pattern": UINT64_PATTERN}
_SCALARS = {
    _FD.TYPE_INT32: _INT32,
    _FD.TYPE_SINT32: _INT32,
    _FD.TYPE_SFIXED32: _INT32,
    _FD.TYPE_UINT32: _UINT32,
    _FD.TYPE_FIXED32: _UINT32,
    _FD.TYPE_INT64: _INT64,
    _FD.TYPE_SINT64: _INT64,
    _FD.TYPE_SFIXED64: _INT64,
    _FD.TYPE_UINT64: _UINT64,
    _FD.TYPE_FIXED64: _UINT64,
    _FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    _FD.TYPE_BOOL: {"type": "boolean"},
    _FD.TYPE_STRING: {"type": "string"},
    _FD.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}
# The well-known types' JSON forms (the protobuf JSON mapping).
_WELL_KNOWN = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": 'Seconds with up to 9 decimals and an "s", e.g. "1.5s".',
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "format": "field-mask",
        "description": 'Comma-separated field paths, e.g. "name,description".',
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object", "properties": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": _SCALARS[_FD.TYPE_DOUBLE],
    "google.protobuf.FloatValue": _SCALARS[_FD.TYPE_FLOAT],
    "google.protobuf.Int64Value": _INT64,
    "google.protobuf.UInt64Value": _UINT64,
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _UINT32,
    "google.protobuf.BoolValue": _SCALARS[_FD.TYPE_BOOL],
    "google.protobuf.StringValue": _SCALARS[_FD.TYPE_STRING],
    "google.protobuf.BytesValue": _SCALARS[_FD.TYPE_BYTES],
}
_WRAPPERS = {
    f"google.protobuf.{kind}Value"
    for kind in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
# Well-known types a query parameter can carry (as a string or scalar); other messages are spelled
# field by field (a.b=...), these not at all, nor maps and repeated messages.
_QUERY_WELL_KNOWN = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    *_WRAPPERS,
}
_QUERY_UNSPELLABLE = {
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.Any",
    "google.protobuf.Empty",
}


def build_document(descriptor_set: pathlib.Path = DESCRIPTOR_SET) -> dict:
    """The OpenAPI document (as a dict) of every method the gateway transcodes."""
    return _Builder(pathlib.Path(descriptor_set)).document()


def write_document(
    path: pathlib.Path = DOCUMENT, descriptor_set: pathlib.Path = DESCRIPTOR_SET
) -> pathlib.Path:
    """Writes the document as JSON to `path` (gen/openapi.json by default; `make proto` does)."""
    path = pathlib.Path(path)
    path.write_text(json.dumps(build_document(descriptor_set), indent=2) + "\n")
    return path


def transcoded_operations(services: list[GrpcService]) -> list[tuple[GrpcService, Method, HttpBinding]]:
    """Each HTTP rule of the methods the gateway transcodes, with its method and service."""
    return [
        (service, method, binding)
        for service in services
        if not service.internal  # the gateway routes (and transcodes) every other service
        for method in service.methods
        for binding in method.http
    ]


def operation_id(service: GrpcService, method: Method, binding_index: int) -> str:
    """Service_Method; an additional binding gets its position (Service_Method_2, ...)."""
    base = f"{service.full_name.rpartition('.')[2]}_{method.name}"
    return base if binding_index == 0 else f"{base}_{binding_index + 1}"


def path_variables(template: str) -> list[str]:
    """The field paths a google.api.http path template binds, e.g. ["user.id"]."""
    return TEMPLATE_VARIABLE.findall(template)


def openapi_path(template: str) -> str:
    """`/v1/x/{name=pattern}` as OpenAPI writes it: `/v1/x/{name}`."""
    return TEMPLATE_VARIABLE.sub(lambda match: "{" + match.group(1) + "}", template)


class _Builder:
    def __init__(self, descriptor_set: pathlib.Path) -> None:
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
        self.pool = descriptor_pool.DescriptorPool()
        for file in files:
            self.pool.Add(file)
        self.comments = _comments(files)
        self.services = read_contract(descriptor_set)
        self.proto_names = JSON_PRINT_OPTIONS["preserve_proto_field_names"]
        self.schemas: dict[str, dict] = {}

    def document(self) -> dict:
        paths: dict[str, dict] = {}
        tags = {}
        for service, method, binding in transcoded_operations(self.services):
            tag = service.full_name.rpartition(".")[2]
            tags[tag] = {"name": tag, **self._described(service.full_name)}
            index = method.http.index(binding)
            operation = self.operation(service, method, binding, operation_id(service, method, index))
            operations = paths.setdefault(openapi_path(binding.template), {})
            verb = binding.verb.lower()
            if verb in operations:
                raise ValueError(f"two methods answer {binding.verb} {binding.template}")
            operations[verb] = operation
        self.schemas[STATUS_SCHEMA] = self.status_schema()
        return {
            "openapi": "3.1.0",
            "info": {
                "title": TITLE,
                "version": _project_version(),
                "description": (
                    "The Dockyard control plane's HTTP/JSON API, as its gateway transcodes the gRPC "
                    "contract. Generated from the protos; every operation is also a gRPC method "
                    "(operationId: Service_Method)."
                ),
            },
            "tags": list(tags.values()),
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": dict(sorted(self.schemas.items())),
                "responses": {"Error": self.error_response()},
                "securitySchemes": {
                    BEARER: {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "JWT",
                        "description": (
                            "An access token from POST /v1/auth/login, /v1/auth/refresh or "
                            "/v1/auth/token (an API token exchanged)."
                        ),
                    }
                },
            },
        }

    # -- operations --------------------------------------------------------------------------------

    def operation(self, service: GrpcService, method: Method, binding: HttpBinding, op_id: str) -> dict:
        request = self.pool.FindMessageTypeByName(method.input_type)
        bound = path_variables(binding.template)
        operation = {"operationId": op_id, "tags": [service.full_name.rpartition(".")[2]]}
        comment = self.comments.get(f"{service.full_name}.{method.name}", "")
        if comment:
            operation["summary"] = _first_sentence(comment)
            operation["description"] = comment
        parameters = [self.path_parameter(request, variable) for variable in bound]
        if binding.body != "*":
            excluded = [*bound, binding.body] if binding.body else bound
            parameters.extend(self.query_parameters(request, "", "", excluded, (request.full_name,)))
        if parameters:
            operation["parameters"] = parameters
        if binding.body:
            operation["requestBody"] = self.request_body(request, binding.body, bound)
        operation["responses"] = {
            "200": self.success_response(method),
            "4XX": {"$ref": "#/components/responses/Error"},
            "5XX": {"$ref": "#/components/responses/Error"},
        }
        operation["security"] = [] if method.public else [{BEARER: []}]
        return operation

    def path_parameter(self, request: descriptor.Descriptor, variable: str) -> dict:
        field = _field_at(request, variable)
        schema = self.value_schema(field)
        if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema:
            schema = {**schema, "minLength": 1}  # an empty segment matches no template
        return {
            "name": variable,
            "in": "path",
            "required": True,
            "schema": schema,
            **self._described(f"{field.containing_type.full_name}.{field.name}"),
        }

    def query_parameters(
        self,
        message: descriptor.Descriptor,
        name_prefix: str,
        path_prefix: str,
        excluded: list[str],
        seen: tuple[str, ...],
    ) -> list[dict]:
        """The request's fields not bound by the path or the body, which the transcoder takes from the
        query string: a nested message's fields as `outer.inner`, a repeated field once per value."""
        parameters = []
        for field in message.fields:
            name = name_prefix + self.json_name(field)
            path = path_prefix + field.name
            if path in excluded:
                continue
            if field.message_type is not None and field.message_type.full_name not in _QUERY_WELL_KNOWN:
                nested = field.message_type
                if (
                    _is_map(field)
                    or field.is_repeated
                    or nested.full_name in _QUERY_UNSPELLABLE
                    or nested.full_name in seen
                ):
                    continue
                parameters.extend(
                    self.query_parameters(nested, name + ".", path + ".", excluded, (*seen, nested.full_name))
                )
                continue
            parameter = {
                "name": name,
                "in": "query",
                "schema": self.field_schema(field, describe=False),
                **self._described(f"{message.full_name}.{field.name}"),
            }
            if field.is_repeated:
                parameter["explode"] = True  # ?tag=a&tag=b
            parameters.append(parameter)
        return parameters

    def request_body(self, request: descriptor.Descriptor, body: str, bound: list[str]) -> dict:
        field = None if body == "*" else _field_at(request, body)
        carried = request if field is None else field.message_type  # None for a scalar field
        if carried is not None and carried.full_name == HTTP_BODY:
            return {
                "description": "The body as it is: its bytes and content type reach the service unchanged.",
                "content": {ANY_MEDIA_TYPE: {"schema": {}}},
            }
        if field is None:
            schema = self.message_schema(request, exclude={v for v in bound if "." not in v})
        else:
            schema = self.field_schema(field)
        return {"content": {JSON_MEDIA_TYPE: {"schema": schema}}}

    def success_response(self, method: Method) -> dict:
        if method.output_type == HTTP_BODY:
            return {
                "description": "The body as the service sends it, with the content type it chose.",
                "content": {ANY_MEDIA_TYPE: {"schema": {}}},
            }
        schema = self.message_ref(self.pool.FindMessageTypeByName(method.output_type))
        if method.server_streaming:
            # Before OpenAPI 3.2 (itemSchema), an event stream's schema describes each event.
            event = {
                "type": "object",
                "properties": {
                    "data": {"type": "string", "contentMediaType": JSON_MEDIA_TYPE, "contentSchema": schema},
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer"},
                },
                "required": ["data"],
            }
            return {
                "description": (
                    f"Server-sent events, each one's data a {method.output_type} as JSON; the stream "
                    "ends when the call does."
                ),
                "content": {EVENT_STREAM_MEDIA_TYPE: {"schema": event}},
            }
        return {
            "description": self.comments.get(method.output_type, "") or method.output_type,
            "content": {JSON_MEDIA_TYPE: {"schema": schema}},
        }

    def error_response(self) -> dict:
        return {
            "description": (
                "The call failed: the gRPC status code, a message and, for bad input, details such as "
                "a google.rpc.BadRequest naming the field. HTTP statuses follow the gRPC codes "
                "(INVALID_ARGUMENT and FAILED_PRECONDITION 400, UNAUTHENTICATED 401, "
                "PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS 409, UNAVAILABLE 503, ...)."
            ),
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": COMPONENTS + STATUS_SCHEMA}}},
        }

    def status_schema(self) -> dict:
        """google.rpc.Status as convert_grpc_status prints it; the gateway's own replies (no route, bad
        token, body too large, ...) have the same shape without details."""
        return {
            "type": "object",
            "description": "An error: google.rpc.Status.",
            "properties": {
                "code": {
                    "type": "integer",
                    "enum": list(range(17)),
                    "description": "The gRPC status code (google.rpc.Code), e.g. 3 INVALID_ARGUMENT.",
                },
                "message": {"type": "string"},
                "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
            },
            "required": ["code", "message"],
        }

    # -- schemas -----------------------------------------------------------------------------------

    def json_name(self, field: descriptor.FieldDescriptor) -> str:
        return field.name if self.proto_names else field.json_name

    def message_ref(self, message: descriptor.Descriptor) -> dict:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.schemas:
            self.schemas[message.full_name] = {}  # placeholder: recursive messages refer to it
            self.schemas[message.full_name] = self.message_schema(message)
        return {"$ref": COMPONENTS + message.full_name}

    def message_schema(self, message: descriptor.Descriptor, exclude: set[str] = frozenset()) -> dict:
        properties = {
            self.json_name(field): self.field_schema(field)
            for field in message.fields
            if field.name not in exclude
        }
        return {"type": "object", **self._described(message.full_name), "properties": properties}

    def field_schema(self, field: descriptor.FieldDescriptor, *, describe: bool = True) -> dict:
        if _is_map(field):
            value = field.message_type.fields_by_name["value"]
            schema = {"type": "object", "additionalProperties": self.value_schema(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.value_schema(field)}
        else:
            schema = self.value_schema(field)
        if describe:
            schema.update(self._described(f"{field.containing_type.full_name}.{field.name}"))
        if field.GetOptions().deprecated:
            schema["deprecated"] = True
        return schema

    def value_schema(self, field: descriptor.FieldDescriptor) -> dict:
        if field.type == _FD.TYPE_MESSAGE:
            return self.message_ref(field.message_type)
        if field.type == _FD.TYPE_ENUM:
            return self.enum_ref(field.enum_type)
        return dict(_SCALARS[field.type])

    def enum_ref(self, enum: descriptor.EnumDescriptor) -> dict:
        if enum.full_name == "google.protobuf.NullValue":
            return {"type": "null"}
        if enum.full_name not in self.schemas:
            schema = {"type": "string", "enum": [value.name for value in enum.values]}
            described = [
                f"- {value.name}: {self.comments[f'{enum.full_name}/{value.name}']}"
                for value in enum.values
                if f"{enum.full_name}/{value.name}" in self.comments
            ]
            text = "\n".join(filter(None, [self.comments.get(enum.full_name, ""), *described]))
            if text:
                schema["description"] = text
            self.schemas[enum.full_name] = schema
        return {"$ref": COMPONENTS + enum.full_name}

    def _described(self, name: str) -> dict:
        comment = self.comments.get(name)
        return {"description": comment} if comment else {}


def _field_at(message: descriptor.Descriptor, path: str) -> descriptor.FieldDescriptor:
    """The field a dotted path (`user.id`) names in `message`."""
    *parents, last = path.split(".")
    for name in parents:
        message = message.fields_by_name[name].message_type
    return message.fields_by_name[last]


def _is_map(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _first_sentence(text: str) -> str:
    paragraph = text.split("\n\n")[0].replace("\n", " ")
    sentence, dot, _ = paragraph.partition(". ")
    return sentence + "." if dot else paragraph


def _project_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


# -- proto comments --------------------------------------------------------------------------------

# Field numbers in descriptor.proto, which source_code_info's paths are made of.
_FILE_MESSAGES, _FILE_ENUMS, _FILE_SERVICES = 4, 5, 6
_MESSAGE_FIELDS, _MESSAGE_NESTED, _MESSAGE_ENUMS = 2, 3, 4
_ENUM_VALUES, _SERVICE_METHODS = 2, 2


def _comments(files) -> dict[str, str]:
    """Each element's leading comment (or trailing, when it has none) by full name: messages, fields
    (Message.field), enums, enum values (Enum/VALUE), services and methods (Service.Method)."""
    comments = {}
    for file in files:
        by_path = {}
        for location in file.source_code_info.location:
            text = _clean(location.leading_comments or location.trailing_comments)
            if text:
                by_path[tuple(location.path)] = text
        if not by_path:
            continue
        for path, name in _element_paths(file):
            if path in by_path:
                comments[name] = by_path[path]
    return comments


def _element_paths(file: descriptor_pb2.FileDescriptorProto):
    prefix = f"{file.package}." if file.package else ""

    def enum(path, enum_type, scope):
        name = scope + enum_type.name
        yield path, name
        for index, value in enumerate(enum_type.value):
            yield (*path, _ENUM_VALUES, index), f"{name}/{value.name}"

    def message(path, message_type, scope):
        name = scope + message_type.name
        yield path, name
        for index, field in enumerate(message_type.field):
            yield (*path, _MESSAGE_FIELDS, index), f"{name}.{field.name}"
        for index, nested in enumerate(message_type.nested_type):
            yield from message((*path, _MESSAGE_NESTED, index), nested, name + ".")
        for index, nested in enumerate(message_type.enum_type):
            yield from enum((*path, _MESSAGE_ENUMS, index), nested, name + ".")

    for index, message_type in enumerate(file.message_type):
        yield from message((_FILE_MESSAGES, index), message_type, prefix)
    for index, enum_type in enumerate(file.enum_type):
        yield from enum((_FILE_ENUMS, index), enum_type, prefix)
    for index, service in enumerate(file.service):
        name = prefix + service.name
        yield (_FILE_SERVICES, index), name
        for method_index, method in enumerate(service.method):
            yield (_FILE_SERVICES, index, _SERVICE_METHODS, method_index), f"{name}.{method.name}"


def _clean(comment: str) -> str:
    """A proto comment without the space after each `//`, as text."""
    lines = [line[1:] if line.startswith(" ") else line for line in comment.strip("\n").split("\n")]
    return "\n".join(lines).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.openapi", description="Write the OpenAPI document of the HTTP/JSON API."
    )
    parser.add_argument("-o", "--output", type=pathlib.Path, default=DOCUMENT, help="default: %(default)s")
    parser.add_argument(
        "--descriptor-set", type=pathlib.Path, default=DESCRIPTOR_SET, help="default: %(default)s"
    )
    arguments = parser.parse_args(argv)
    write_document(arguments.output, arguments.descriptor_set)
    return 0


if __name__ == "__main__":
    sys.exit(main())
