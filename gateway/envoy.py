"""Envoy's whole configuration, built from the contract (`dockyard_kit.contract`).

Which gRPC services the gateway routes, which process serves each, which are transcoded to HTTP/JSON,
which methods stream and which answer without an access token all come from the protos (service and
method options, google.api.http rules); nothing here is written per route. `python -m gateway` writes
a file; the stack calls `write_config`. gateway/README.md explains the choices.
"""

import ipaddress
import json
import pathlib
import re

import yaml

from dockyard_kit import config, registry
from dockyard_kit.config import GATEWAY_CREDENTIAL_HEADER
from dockyard_kit.contract import DESCRIPTOR_SET, GrpcService, HttpBinding, read_contract
from gateway.openapi import DOCUMENT_PATH, JSON_PRINT_OPTIONS, build_document

DEFAULT_SERVICE_ADDRESSES = {service.name: service.default_address for service in registry.SERVICES}
DEFAULT_JWT_ISSUER = config.Settings.model_fields["DOCKYARD_JWT_ISSUER"].default
DEFAULT_JWT_AUDIENCE = config.Settings.model_fields["DOCKYARD_JWT_AUDIENCE"].default
ROUTE_TIMEOUT = "15s"
# Log tails stay open for as long as the client wants, and may be silent while an image builds.
STREAM_IDLE_TIMEOUT = "3600s"
# An edge proxy without a limit lets a connection flood exhaust file descriptors and memory.
MAX_DOWNSTREAM_CONNECTIONS = 10_000
# gRPC's default maximum message size: no unary response a service can send is larger.
MAX_RESPONSE_BYTES = 4 << 20

TYPE_PREFIX = "type.googleapis.com/"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
GRPC_CONTENT_TYPE = "application/grpc"  # also the prefix of application/grpc+proto and grpc-web
UNROUTED_CLUSTER = "unrouted"
TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
# Request header names gRPC metadata cannot carry: any but 0-9 a-z _ . - (pseudo-headers, which start
# with ":", aside), binary metadata (-bin, whose value must be base64) and gRPC's own grpc-* headers.
NOT_GRPC_METADATA = r"(?:[^:0-9a-z_.-]|[^:][0-9a-z_.-]*[^0-9a-z_.-]).*|.*-bin|grpc-.*"

# jwt_authn: identity's keys are fetched, as any client would, from the gateway's own listener, which
# transcodes the public GetJwks. Envoy never refetches on an unknown kid (only when its copy expires),
# so identity must publish a new key at least JWKS_CACHE_DURATION before signing with it.
JWT_PROVIDER = "dockyard"
JWKS_PATH = "/.well-known/jwks.json"
JWKS_CLUSTER = "gateway-jwks"
JWKS_CACHE_DURATION = "60s"
# Where jwt_authn records why it refused a token (request dynamic metadata), for local_reply_config.
JWT_FAILURE_METADATA = "jwt_failure"

# Locally generated replies (no route, bad query, body too large, ...) as JSON bodies shaped like the
# google.rpc.Status the transcoder renders for a service's errors: HTTP status -> gRPC code.
LOCAL_REPLY_GRPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED, what gRPC itself answers for an oversized message
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
UNKNOWN_GRPC_CODE = 2

ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    # The transcoder rewrites method and path to the gRPC call; the log shows what the client sent.
    # Query strings are left out: they may carry page tokens or other values nobody should keep.
    "method": "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
    "path": "%PATH(NQ:ORIG_OR_PATH)%",
    "rpc": "%PATH(NQ:PATH)%",
    "protocol": "%PROTOCOL%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS_NUMBER%",
    "flags": "%RESPONSE_FLAGS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "duration_ms": "%DURATION%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
}


def routed_services(services: list[GrpcService]) -> list[GrpcService]:
    return [s for s in services if not s.internal]


def transcoded_services(services: list[GrpcService]) -> list[str]:
    return [s.full_name for s in routed_services(services) if s.has_http_rules]


# -- the bootstrap -------------------------------------------------------------------------------


def build_config(
    descriptor_set: pathlib.Path = DESCRIPTOR_SET,
    *,
    listen_host: str,
    listen_port: int,
    admin_port: int,
    service_addresses: dict[str, str],
    max_request_bytes: int = 1 << 20,
    jwt_issuer: str = DEFAULT_JWT_ISSUER,
    jwt_audience: str = DEFAULT_JWT_AUDIENCE,
    gateway_secret: str = "",
) -> dict:
    """The Envoy bootstrap (as a dict) for the contract in `descriptor_set`. Access tokens must come
    from `jwt_issuer` for `jwt_audience` (DOCKYARD_JWT_ISSUER / DOCKYARD_JWT_AUDIENCE); every
    forwarded request carries `gateway_secret` (the services' DOCKYARD_GATEWAY_SECRET), without which
    they do not believe its X-Forwarded-For."""
    descriptor_set = pathlib.Path(descriptor_set).resolve()
    services = read_contract(descriptor_set)
    for service in routed_services(services):
        if service.served_by not in service_addresses:
            raise ValueError(
                f"{service.full_name} is served by {service.served_by!r}, which has no address "
                f"(known: {', '.join(sorted(service_addresses))})"
            )
    authentication = jwt_authn(services, jwt_issuer, jwt_audience)
    own_listener = _loopback_for(listen_host)
    return {
        "admin": {"address": _socket_address("127.0.0.1", admin_port)},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": TYPE_PREFIX
                        + "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                        "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS,
                    },
                }
            ]
        },
        "static_resources": {
            "listeners": [
                listener(
                    descriptor_set,
                    services,
                    listen_host,
                    listen_port,
                    max_request_bytes,
                    authentication,
                    gateway_secret,
                )
            ],
            "clusters": [
                *(cluster(name, address) for name, address in service_addresses.items()),
                jwks_cluster(own_listener, listen_port),
            ],
        },
    }


def write_config(path: pathlib.Path, **kwargs) -> pathlib.Path:
    """Writes the bootstrap `build_config(**kwargs)` as YAML to `path`, readable by its owner only (it
    holds the gateway's credential)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(build_config(**kwargs), sort_keys=False))
    return path


def listener(
    descriptor_set: pathlib.Path,
    services: list[GrpcService],
    host: str,
    port: int,
    max_request_bytes: int,
    authentication: dict,
    gateway_secret: str,
) -> dict:
    manager = {
        "@type": TYPE_PREFIX
        + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "gateway",
        # HTTP/1.1 and cleartext HTTP/2 (what gRPC clients speak) on the same port.
        "codec_type": "AUTO",
        # Envoy is the edge: the client address is the peer's (no hop before it is trusted, so a
        # client's X-Forwarded-For never names it; forwarded_headers replaces that header outright),
        # and a client's x-request-id is kept (one is generated when absent), forwarded to the
        # service and returned in the response.
        "use_remote_address": True,
        "xff_num_trusted_hops": 0,
        "generate_request_id": True,
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        "normalize_path": True,
        "merge_slashes": True,
        "access_log": [access_log()],
        "route_config": route_config(services, gateway_secret, json.dumps(build_document(descriptor_set))),
        "local_reply_config": local_reply_config(max_request_bytes),
        "http_filters": http_filters(descriptor_set, services, max_request_bytes, authentication),
    }
    return {
        "name": "gateway",
        "address": _socket_address(host, port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


def http_filters(
    descriptor_set: pathlib.Path, services: list[GrpcService], max_request_bytes: int, authentication: dict
) -> list:
    """The HTTP filter chain, in order. Authentication (jwt_authn) comes right after CORS: preflight
    requests carry no token, and a request that fails authentication should not be buffered first."""
    return [
        {
            "name": "envoy.filters.http.cors",
            "typed_config": {"@type": TYPE_PREFIX + "envoy.extensions.filters.http.cors.v3.Cors"},
        },
        authentication,
        request_body_limit(max_request_bytes),
        grpc_metadata_only(),
        transcoder(descriptor_set, services, max_request_bytes),
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": TYPE_PREFIX + "envoy.extensions.filters.http.router.v3.Router"},
        },
    ]


def cors_policy() -> dict:
    """Permissive defaults: any origin may call the API with a bearer token (no cookies are used)."""
    return {
        "@type": TYPE_PREFIX + "envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [{"safe_regex": {"regex": ".*"}}],
        "allow_methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS",
        "allow_headers": "authorization, content-type, x-request-id, x-grpc-web, x-user-agent, grpc-timeout",
        "expose_headers": "x-request-id, grpc-status, grpc-message, grpc-status-details-bin",
        "max_age": "86400",
        # Preflights end here whatever their origin: the catch-all route must never forward one.
        "forward_not_matching_preflights": False,
    }


def jwt_authn(services: list[GrpcService], issuer: str, audience: str) -> dict:
    """Every request needs a valid access token except those for public methods, which the filter
    (running before the transcoder) sees either as gRPC (/<package>.<Service>/<Method>) or as HTTP
    (their google.api.http rules, method included). Unknown paths need a token too: anonymous clients
    learn nothing about what exists. The token is forwarded, for services verify it again."""
    public = [method for service in routed_services(services) for method in service.public_methods]
    if not any(binding == HttpBinding("GET", JWKS_PATH) for method in public for binding in method.http):
        raise ValueError(f"no public method serves GET {JWKS_PATH}, which jwt_authn fetches the keys from")
    rules = []
    for method in public:
        rules.append({"match": {"path": method.grpc_path}})
        rules.extend(
            {"match": {**_template_match(binding.template), "headers": [_method_is(binding.verb)]}}
            for binding in method.http
        )
    rules.append({"match": {"path": DOCUMENT_PATH, "headers": [_method_is("GET")]}})
    rules.append({"match": {"prefix": "/"}, "requires": {"provider_name": JWT_PROVIDER}})
    provider = {
        "issuer": issuer,
        "audiences": [audience],
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
        "forward": True,
        "require_expiration": True,
        "clock_skew_seconds": config.CLOCK_LEEWAY_SECONDS,
        "failed_status_in_metadata": JWT_FAILURE_METADATA,
        "remote_jwks": {
            # The cluster says where the request goes; the URI's host is only its authority.
            "http_uri": {
                "uri": f"http://{JWKS_CLUSTER}{JWKS_PATH}",
                "cluster": JWKS_CLUSTER,
                "timeout": "2s",
            },
            "cache_duration": JWKS_CACHE_DURATION,
            # Fetched by the main thread for all workers, before the copy expires; the listener does
            # not wait for the first fetch, as the fetch goes through that very listener.
            "async_fetch": {"fast_listener": True, "failed_refetch_duration": "1s"},
            "retry_policy": {
                "num_retries": 2,
                "retry_back_off": {"base_interval": "0.2s", "max_interval": "1s"},
            },
        },
    }
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {JWT_PROVIDER: provider},
            "rules": rules,
            "bypass_cors_preflight": True,
        },
    }


def _method_is(verb: str) -> dict:
    return {"name": ":method", "string_match": {"exact": verb}}


def _template_match(template: str) -> dict:
    """A route match for the paths an HTTP rule's path template accepts."""
    if "{" not in template and "*" not in template:
        return {"path": template}
    return {"safe_regex": {"regex": template_regex(template)}}


def template_regex(template: str) -> str:
    """An RE2 regex for a google.api.http path template: `*` and a plain `{var}` are one segment,
    `**` any number, `{var=pattern}` its pattern. Variables never match ":" either, so that
    `/v1/x/{id}` cannot stand in for `/v1/x/{id}:verb` (a verb may belong to a method that needs a
    token); a public path whose variable holds a ":" then needs a token, which fails safe."""
    parts, position = [], 0
    while position < len(template):
        if template.startswith("{", position):
            end = template.index("}", position)
            _, _, pattern = template[position + 1 : end].partition("=")
            parts.append(template_regex(pattern or "*"))
            position = end + 1
        elif template.startswith("**", position):
            parts.append("[^:]*")
            position += 2
        elif template.startswith("*", position):
            parts.append("[^/:]+")
            position += 1
        else:
            parts.append(re.escape(template[position]))
            position += 1
    return "".join(parts)


def request_body_limit(max_request_bytes: int) -> dict:
    """The buffer filter answers 413 once a body exceeds the limit, before the transcoder parses any of
    it. gRPC requests skip it: buffering would break client streaming, and the services' own gRPC
    maximum message size rejects an oversized message with RESOURCE_EXHAUSTED."""
    buffer = {
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes": max_request_bytes,
        },
    }
    return _except_for_grpc("request-body-limit", buffer)


def grpc_metadata_only() -> dict:
    """HTTP/JSON requests lose the headers that gRPC metadata cannot carry before the transcoder turns
    them into a call: the services' gRPC servers would refuse such a call with INTERNAL before any
    service code ran (an HTTP client may send `+x: 1`, `x-bin: not base64` or `grpc-timeout: soon`).
    gRPC requests come from gRPC libraries, which send valid metadata, and keep every header."""
    mutation = {
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {
                "request_mutations": [
                    {"remove_on_match": {"key_matcher": {"safe_regex": {"regex": NOT_GRPC_METADATA}}}}
                ]
            },
        },
    }
    return _except_for_grpc("grpc-metadata-only", mutation)


def _except_for_grpc(name: str, http_filter: dict) -> dict:
    """`http_filter`, skipped for requests with a gRPC content-type."""
    skip_grpc = {
        "matcher_tree": {
            "input": {
                "name": "content-type",
                "typed_config": {
                    "@type": TYPE_PREFIX + "envoy.type.matcher.v3.HttpRequestHeaderMatchInput",
                    "header_name": "content-type",
                },
            },
            "prefix_match_map": {
                "map": {
                    GRPC_CONTENT_TYPE: {
                        "action": {
                            "name": "skip",
                            "typed_config": {
                                "@type": TYPE_PREFIX
                                + "envoy.extensions.filters.common.matcher.action.v3.SkipFilter"
                            },
                        }
                    }
                }
            },
        }
    }
    return {
        "name": name,
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.common.matching.v3.ExtensionWithMatcher",
            "extension_config": http_filter,
            "xds_matcher": skip_grpc,
        },
    }


def transcoder(descriptor_set: pathlib.Path, services: list[GrpcService], max_request_bytes: int) -> dict:
    return {
        "name": TRANSCODER,
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(descriptor_set),
            "services": transcoded_services(services),
            "print_options": JSON_PRINT_OPTIONS,
            "convert_grpc_status": True,
            # Malformed HTTP gets a 4xx here instead of reaching a service as gRPC-less junk (a 503).
            "request_validation_options": {
                "reject_unknown_method": True,
                "reject_unknown_query_parameters": True,
                "reject_binding_body_field_collisions": True,
            },
            "max_request_body_size": max_request_bytes,
            "max_response_body_size": MAX_RESPONSE_BYTES,
        },
    }


def forwarded_headers(gateway_secret: str) -> list[dict]:
    """Set on every request Envoy forwards, replacing whatever the client sent under these names: the
    client's address as Envoy saw it, and the gateway's credential, the proof for the services that
    this X-Forwarded-For is Envoy's (dockyard_kit/interceptors.py). Without a credential the services
    believe no X-Forwarded-For and see the gateway's own address."""
    headers = {"x-forwarded-for": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}
    if gateway_secret:
        headers[GATEWAY_CREDENTIAL_HEADER] = gateway_secret.replace("%", "%%")  # no format commands
    return [
        {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for key, value in headers.items()
    ]


def route_config(services: list[GrpcService], gateway_secret: str = "", openapi_document: str = "{}") -> dict:
    # The OpenAPI document of the HTTP/JSON API (gateway/openapi.py): public (see jwt_authn), readable
    # by any origin (CORS ignores direct responses, so the route says so), and not the transcoder's
    # (it would answer 404 for a path no method has).
    openapi = {
        "name": "openapi",
        "match": {"path": DOCUMENT_PATH, "headers": [_method_is("GET")]},
        "direct_response": {"status": 200, "body": {"inline_string": openapi_document}},
        "typed_per_filter_config": {
            TRANSCODER: {"@type": TYPE_PREFIX + "envoy.config.route.v3.FilterConfig", "disabled": True}
        },
        "response_headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in (("content-type", "application/json"), ("access-control-allow-origin", "*"))
        ],
    }
    routes = [openapi, *(route for service in routed_services(services) for route in service_routes(service))]
    # Anything else ends here. HTTP/JSON requests pass this route before the transcoder rewrites their
    # path, and CORS only acts on forwarding routes (not direct responses), so this one forwards, to a
    # cluster that deliberately does not exist: the router answers 404, which local_reply_config
    # renders as JSON (gRPC clients get UNIMPLEMENTED).
    routes.append(
        {
            "name": "no-route",
            "match": {"prefix": "/"},
            "route": {"cluster": UNROUTED_CLUSTER, "cluster_not_found_response_code": "NOT_FOUND"},
        }
    )
    return {
        "name": "gateway",
        # Every other cluster name comes from service_addresses, checked in build_config.
        "validate_clusters": False,
        # Envoy's default (4 KiB) is far below the OpenAPI document.
        "max_direct_response_body_size_bytes": len(openapi_document.encode()),
        "virtual_hosts": [
            {
                "name": "dockyard",
                "domains": ["*"],
                "routes": routes,
                "request_headers_to_add": forwarded_headers(gateway_secret),
                "typed_per_filter_config": {"envoy.filters.http.cors": cors_policy()},
            }
        ],
    }


def service_routes(service: GrpcService) -> list[dict]:
    """Routes on the gRPC path, which transcoded requests carry too: server-streaming methods first
    (no deadline), then the rest of the service."""
    streaming = [
        {
            "name": f"{service.full_name}/{method}",
            "match": {"path": f"{service.path_prefix}{method}"},
            "route": {"cluster": service.served_by, "timeout": "0s", "idle_timeout": STREAM_IDLE_TIMEOUT},
        }
        for method in service.server_streaming_methods
    ]
    unary = {
        "name": service.full_name,
        "match": {"prefix": service.path_prefix},
        "route": {"cluster": service.served_by, "timeout": ROUTE_TIMEOUT},
    }
    return [*streaming, unary]


def local_reply_config(max_request_bytes: int) -> dict:
    """Envoy's own replies (no route, bad query, body too large, service down, ...) as JSON
    {"code", "message"} for HTTP clients, like the google.rpc.Status JSON the transcoder renders for a
    service's errors. gRPC clients get them as a grpc-status instead, as Envoy does by default."""
    json_messages = {
        # Whoever said it (the transcoder or the catch-all route), the method and path are the news.
        404: "no route for %REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)% %PATH(NQ:ORIG_OR_PATH)%",
        413: f"request body larger than {max_request_bytes} bytes",
    }
    # jwt_authn answers a token for another audience with 403; like any other bad token, it is a 401.
    refused_token = [_status_is(403), _jwt_refused()]
    mappers = [
        {
            "filter": {"and_filter": {"filters": [*refused_token, _answered_as_http()]}},
            "status_code": 401,
            "body_format_override": _json_body(LOCAL_REPLY_GRPC_CODES[401], "%LOCAL_REPLY_BODY%"),
        },
        {"filter": {"and_filter": {"filters": refused_token}}, "status_code": 401},
    ]
    mappers.extend(
        {
            "filter": {"and_filter": {"filters": [_status_is(status), _answered_as_http()]}},
            "body_format_override": _json_body(code, json_messages.get(status, "%LOCAL_REPLY_BODY%")),
        }
        for status, code in LOCAL_REPLY_GRPC_CODES.items()
    )
    # Any other error; not a direct response such as the OpenAPI document's, a local reply too.
    mappers.append(
        {
            "filter": {"and_filter": {"filters": [_status_is(400, "GE"), _answered_as_http()]}},
            "body_format_override": _json_body(UNKNOWN_GRPC_CODE, "%LOCAL_REPLY_BODY%"),
        }
    )
    # A gRPC client calling an unrouted (or internal) service gets UNIMPLEMENTED; say which path.
    mappers.append(
        {
            "filter": _status_is(404),
            "body_format_override": {"text_format_source": {"inline_string": "no route for %PATH(NQ:PATH)%"}},
        }
    )
    return {"mappers": mappers}


def _jwt_refused() -> dict:
    """jwt_authn refused the request's token (it recorded why in the request's metadata)."""
    path = [{"key": JWT_FAILURE_METADATA}]
    matcher = {"filter": "envoy.filters.http.jwt_authn", "path": path, "value": {"present_match": True}}
    return {"metadata_filter": {"matcher": matcher}}


def _answered_as_http() -> dict:
    """Envoy answers a request as gRPC when it arrived with a gRPC content-type. The transcoder rewrites
    the content-type of HTTP/JSON requests to application/grpc but leaves x-envoy-original-path."""
    not_grpc = {
        "name": "content-type",
        "string_match": {"prefix": GRPC_CONTENT_TYPE},
        "invert_match": True,
        "treat_missing_header_as_empty": True,
    }
    transcoded = {"name": "x-envoy-original-path", "present_match": True}
    return {
        "or_filter": {
            "filters": [{"header_filter": {"header": not_grpc}}, {"header_filter": {"header": transcoded}}]
        }
    }


def _status_is(status: int, op: str = "EQ") -> dict:
    # runtime_key is required by the API; nothing sets it, so the default value is the one used.
    value = {"default_value": status, "runtime_key": f"gateway.local_reply.status_{op.lower()}_{status}"}
    return {"status_code_filter": {"comparison": {"op": op, "value": value}}}


def _json_body(grpc_code: int, message: str) -> dict:
    return {"json_format": {"code": grpc_code, "message": message}}


def access_log() -> dict:
    return {
        "name": "envoy.access_loggers.stdout",
        "typed_config": {
            "@type": TYPE_PREFIX + "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {"json_format": ACCESS_LOG_FORMAT},
        },
    }


def cluster(name: str, address: str) -> dict:
    """One Dockyard service: HTTP/2 to its gRPC port, actively health-checked over grpc.health.v1."""
    host, port = split_address(address)
    spec = {
        "name": name,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "2s",
        "typed_extension_protocol_options": {
            HTTP_PROTOCOL_OPTIONS: {
                "@type": TYPE_PREFIX + HTTP_PROTOCOL_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket_address(host, port)}}]}],
        },
        # Envoy takes a failing host out of rotation, but when every host of a service fails (panic
        # mode, at the default 50% threshold) it routes to them anyway: a service whose database is
        # down still answers with its own, precise error, and the status page, which identity serves,
        # must answer exactly then.
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "2s",
                # Without traffic Envoy would otherwise check only once a minute, and a service that
                # started after Envoy would stay marked unhealthy that long.
                "no_traffic_interval": "2s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": ""},
            }
        ],
    }
    if not _is_ip(host):
        spec["dns_lookup_family"] = "V4_PREFERRED"
    return spec


def jwks_cluster(host: str, port: int) -> dict:
    """The gateway's own listener, where jwt_authn fetches identity's keys (HTTP/1.1, like a client)."""
    return {
        "name": JWKS_CLUSTER,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": JWKS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket_address(host, port)}}]}],
        },
    }


def _loopback_for(listen_host: str) -> str:
    """Where the gateway reaches its own listener: a wildcard listener is reached on loopback."""
    if listen_host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if listen_host == "::":
        return "::1"
    return listen_host


def _socket_address(host: str, port: int) -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"service address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
