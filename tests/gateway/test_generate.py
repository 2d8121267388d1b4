"""The generator on its own: what the contract (plus the fixture services) turns into."""

import dataclasses
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from dockyard_kit.config import CLOCK_LEEWAY_SECONDS, GATEWAY_CREDENTIAL_HEADER
from dockyard_kit.contract import DESCRIPTOR_SET, read_contract
from gateway.envoy import JWKS_CLUSTER, build_config, jwt_authn, template_regex
from tests.gateway.support import REPO_ROOT

SERVICE_ADDRESSES = {
    "identity": "127.0.0.1:50051",
    "projects": "projects.internal:50052",
    "deployer": "127.0.0.1:50053",
    "audit": "[::1]:50054",
    "notifications": "127.0.0.1:50055",
}


def generate(descriptor_set, **overrides) -> dict:
    arguments = {
        "listen_host": "127.0.0.1",
        "listen_port": 8080,
        "admin_port": 9901,
        "service_addresses": SERVICE_ADDRESSES,
        **overrides,
    }
    return build_config(descriptor_set, **arguments)


def connection_manager(config: dict) -> dict:
    (listener,) = config["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    (manager,) = chain["filters"]
    return manager["typed_config"]


def routes_by_name(config: dict) -> dict[str, dict]:
    (virtual_host,) = connection_manager(config)["route_config"]["virtual_hosts"]
    return {route["name"]: route for route in virtual_host["routes"]}


def http_filter(config: dict, name: str) -> dict:
    return next(f for f in connection_manager(config)["http_filters"] if f["name"] == name)["typed_config"]


def test_routes_and_transcoding_follow_the_service_options(descriptor_set):
    config = generate(descriptor_set)
    routes = routes_by_name(config)
    clusters = {name: route["route"]["cluster"] for name, route in routes.items() if "route" in route}
    assert "direct_response" in routes["openapi"]  # GET /openapi.json, the gateway's own answer

    assert clusters == {
        "dockyard.system.v1.SystemService": "identity",  # served_by
        "dockyard.identity.v1.AuthService": "identity",
        "dockyard.identity.v1.UserService": "identity",
        "dockyard.identity.v1.TeamService": "identity",
        "dockyard.identity.v1.ApiTokenService": "identity",
        "dockyard.projects.v1.ProjectService": "projects",
        "dockyard.projects.v1.ApplicationService": "projects",
        "dockyard.projects.v1.GitSourceService": "projects",
        "dockyard.projects.v1.EnvVarService": "projects",
        "dockyard.projects.v1.VolumeService": "projects",
        "dockyard.projects.v1.DomainService": "projects",
        "dockyard.projects.v1.CertificateService": "projects",
        "dockyard.projects.v1.DatabaseService": "projects",
        # A server-streaming method gets a route of its own (no deadline), before its service's.
        "dockyard.deployer.v1.DeploymentService/FollowDeploymentLogs": "deployer",
        "dockyard.deployer.v1.DeploymentService": "deployer",
        "dockyard.deployer.v1.WebhookService": "deployer",
        "dockyard.audit.v1.AuditLogService/ExportAuditLogs": "audit",
        "dockyard.audit.v1.AuditLogService": "audit",
        "dockyard.audit.v1.GatewayFixtureService/WatchWidgets": "audit",
        "dockyard.audit.v1.GatewayFixtureService": "audit",
        "dockyard.audit.v1.GatewayFixtureGrpcOnlyService": "projects",
        "dockyard.notifications.v1.NotificationChannelService": "notifications",
        "no-route": "unrouted",
    }
    assert routes["dockyard.system.v1.SystemService"]["match"] == {
        "prefix": "/dockyard.system.v1.SystemService/"
    }
    # Internal services are not routed, whatever their HTTP rules; gRPC-only services are not transcoded.
    transcoder = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    assert sorted(transcoder["services"]) == [
        "dockyard.audit.v1.AuditLogService",
        "dockyard.audit.v1.GatewayFixtureService",
        "dockyard.deployer.v1.DeploymentService",
        "dockyard.deployer.v1.WebhookService",
        "dockyard.identity.v1.ApiTokenService",
        "dockyard.identity.v1.AuthService",
        "dockyard.identity.v1.TeamService",
        "dockyard.identity.v1.UserService",
        "dockyard.notifications.v1.NotificationChannelService",
        "dockyard.projects.v1.ApplicationService",
        "dockyard.projects.v1.CertificateService",
        "dockyard.projects.v1.DatabaseService",
        "dockyard.projects.v1.DomainService",
        "dockyard.projects.v1.EnvVarService",
        "dockyard.projects.v1.GitSourceService",
        "dockyard.projects.v1.ProjectService",
        "dockyard.projects.v1.VolumeService",
        "dockyard.system.v1.SystemService",
    ]
    assert transcoder["proto_descriptor"] == str(descriptor_set.resolve())


def test_server_streaming_methods_have_no_deadline_and_match_before_their_service(descriptor_set):
    routes = list(routes_by_name(generate(descriptor_set)).values())
    names = [route["name"] for route in routes]
    streaming = routes[names.index("dockyard.audit.v1.GatewayFixtureService/WatchWidgets")]
    unary = routes[names.index("dockyard.audit.v1.GatewayFixtureService")]

    assert streaming["match"] == {"path": "/dockyard.audit.v1.GatewayFixtureService/WatchWidgets"}
    assert streaming["route"]["timeout"] == "0s"
    assert unary["route"]["timeout"] == "15s"
    assert names.index(streaming["name"]) < names.index(unary["name"])
    assert names[-1] == "no-route"


def test_one_health_checked_http2_cluster_per_service(descriptor_set):
    clusters = {c["name"]: c for c in generate(descriptor_set)["static_resources"]["clusters"]}

    assert set(clusters) == {*SERVICE_ADDRESSES, JWKS_CLUSTER}
    del clusters[JWKS_CLUSTER]
    for cluster in clusters.values():
        options = cluster["typed_extension_protocol_options"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ]
        assert "http2_protocol_options" in options["explicit_http_config"]
        (check,) = cluster["health_checks"]
        assert check["grpc_health_check"] == {"service_name": ""}
    assert clusters["identity"]["type"] == "STATIC"
    assert clusters["projects"]["type"] == "STRICT_DNS"  # a host name is resolved
    audit_address = clusters["audit"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert audit_address["address"]["socket_address"] == {"address": "::1", "port_value": 50054}


def test_a_service_without_an_address_is_an_error(descriptor_set):
    addresses = {name: address for name, address in SERVICE_ADDRESSES.items() if name != "audit"}
    with pytest.raises(ValueError, match=r"AuditLogService is served by 'audit', which has no address"):
        generate(descriptor_set, service_addresses=addresses)


def test_admin_listens_on_loopback_only(descriptor_set):
    config = generate(descriptor_set, listen_host="0.0.0.0", admin_port=9999)
    assert config["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9999}


def test_cli_writes_a_configuration_envoy_accepts(tmp_path):
    """As the launcher runs it: without gen/ on PYTHONPATH, against the contract `make proto` built."""
    output = tmp_path / "envoy.yaml"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "gateway", "-o", str(output), "--admin-port", "9911"],
        cwd=REPO_ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )
    config = yaml.safe_load(output.read_text())
    assert routes_by_name(config)["dockyard.system.v1.SystemService"]["route"]["cluster"] == "identity"
    assert "dockyard.system.v1.ComponentService" not in routes_by_name(config)
    assert http_filter(config, "envoy.filters.http.grpc_json_transcoder")["proto_descriptor"] == str(
        DESCRIPTOR_SET.resolve()
    )
    addresses = {
        c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
            "socket_address"
        ]
        for c in config["static_resources"]["clusters"]
    }
    assert addresses == {
        name: {"address": "127.0.0.1", "port_value": port}
        for name, port in [
            ("identity", 50051),
            ("projects", 50052),
            ("deployer", 50053),
            ("audit", 50054),
            ("notifications", 50055),
            (JWKS_CLUSTER, 8080),  # the gateway's own listener
        ]
    }

    envoy = pathlib.Path(sys.executable).parent / "envoy"
    check = subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(output)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "deprecated" not in (check.stdout + check.stderr).lower()


def run_cli(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [sys.executable, "-m", "gateway", "-o", str(tmp_path / "envoy.yaml"), *arguments]
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True)


def test_the_cli_puts_the_gateway_credential_on_every_forwarded_request(tmp_path):
    secret_file = tmp_path / "gateway.secret"
    secret_file.write_text("ab" * 32 + "\n")
    result = run_cli(tmp_path, "--gateway-secret-file", str(secret_file))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    config = yaml.safe_load((tmp_path / "envoy.yaml").read_text())
    assert (tmp_path / "envoy.yaml").stat().st_mode & 0o777 == 0o600  # it holds the credential
    manager = connection_manager(config)
    assert (manager["use_remote_address"], manager["xff_num_trusted_hops"]) == (True, 0)
    added = {
        entry["header"]["key"]: (entry["header"]["value"], entry["append_action"])
        for entry in manager["route_config"]["virtual_hosts"][0]["request_headers_to_add"]
    }
    assert added == {
        "x-forwarded-for": ("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "OVERWRITE_IF_EXISTS_OR_ADD"),
        GATEWAY_CREDENTIAL_HEADER: ("ab" * 32, "OVERWRITE_IF_EXISTS_OR_ADD"),
    }


def test_the_cli_refuses_a_short_gateway_credential_and_warns_without_one(tmp_path):
    secret_file = tmp_path / "gateway.secret"
    secret_file.write_text("short\n")
    refused = run_cli(tmp_path, "--gateway-secret-file", str(secret_file))
    assert refused.returncode == 2 and "--gateway-secret-file: the secret is 5 bytes long" in refused.stderr

    without = run_cli(tmp_path)
    assert without.returncode == 0 and "no --gateway-secret-file" in without.stderr
    manager = connection_manager(yaml.safe_load((tmp_path / "envoy.yaml").read_text()))
    added = manager["route_config"]["virtual_hosts"][0]["request_headers_to_add"]
    assert [entry["header"]["key"] for entry in added] == ["x-forwarded-for"]


def test_jwt_authn_follows_cors_and_checks_the_configured_issuer_and_audience(descriptor_set):
    config = generate(descriptor_set, jwt_issuer="https://id.example", jwt_audience="dockyard-api")
    names = [f["name"] for f in connection_manager(config)["http_filters"]]
    assert names[:3] == ["envoy.filters.http.cors", "envoy.filters.http.jwt_authn", "request-body-limit"]

    authentication = http_filter(config, "envoy.filters.http.jwt_authn")
    provider = authentication["providers"]["dockyard"]
    assert (provider["issuer"], provider["audiences"]) == ("https://id.example", ["dockyard-api"])
    assert provider["forward"] is True  # services verify the token again
    assert provider["from_headers"] == [{"name": "authorization", "value_prefix": "Bearer "}]
    assert provider["clock_skew_seconds"] == CLOCK_LEEWAY_SECONDS
    jwks = provider["remote_jwks"]
    assert jwks["http_uri"]["cluster"] == JWKS_CLUSTER
    assert jwks["http_uri"]["uri"].endswith("/.well-known/jwks.json")
    assert jwks["async_fetch"]["fast_listener"] is True
    # The default issuer and audience are the settings' defaults.
    default = http_filter(generate(descriptor_set), "envoy.filters.http.jwt_authn")["providers"]["dockyard"]
    assert (default["issuer"], default["audiences"]) == ("dockyard", ["dockyard"])


def test_only_public_methods_are_exempt_on_their_grpc_and_http_paths(descriptor_set):
    rules = http_filter(generate(descriptor_set), "envoy.filters.http.jwt_authn")["rules"]
    exempt = [rule["match"] for rule in rules if "requires" not in rule]

    def http(verb: str, **match) -> dict:
        return {**match, "headers": [{"name": ":method", "string_match": {"exact": verb}}]}

    assert {"path": "/dockyard.identity.v1.AuthService/Login"} in exempt
    assert http("POST", path="/v1/auth/login") in exempt
    assert http("GET", path="/.well-known/jwks.json") in exempt
    assert http("GET", path="/v1/system/status") in exempt
    assert {"path": "/dockyard.audit.v1.GatewayFixtureService/GetWidget"} in exempt
    assert http("GET", safe_regex={"regex": "/v1/fixture/widgets/[^/:]+"}) in exempt
    assert http("GET", safe_regex={"regex": "/v1/fixture/shelves/[^/:]+/widgets/[^/:]+"}) in exempt
    exempt_paths = {str(match) for match in exempt}
    for not_public in ("ArchiveWidget", "CreateWidget", "GetCurrentUser", "ComponentService", "/v1/users"):
        assert not any(not_public in path for path in exempt_paths), not_public
    assert rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": "dockyard"}}


@pytest.mark.parametrize(
    ("template", "matches", "does_not_match"),
    [
        (
            "/v1/users/{user_id}",
            ["/v1/users/42"],
            ["/v1/users/42/teams", "/v1/users/42:disable", "/v1/users/"],
        ),
        ("/v1/users/{user_id}:disable", ["/v1/users/42:disable"], ["/v1/users/42", "/v1/users/42:enable"]),
        ("/v1/{name=projects/*/apps/*}", ["/v1/projects/p/apps/a"], ["/v1/projects/p/apps/a/b"]),
        ("/v1/files/{path=**}", ["/v1/files/a/b/c", "/v1/files/"], ["/v1/files/a:delete"]),
        ("/v1/*/items", ["/v1/x/items"], ["/v1/x/y/items"]),
        ("/v1/a.b/{id}", ["/v1/a.b/1"], ["/v1/aXb/1"]),
    ],
)
def test_path_templates_become_regexes_that_never_match_more(template, matches, does_not_match):
    regex = template_regex(template)
    assert all(re.fullmatch(regex, path) for path in matches), regex
    assert not any(re.fullmatch(regex, path) for path in does_not_match), regex


def test_a_contract_without_a_public_jwks_is_an_error(descriptor_set):
    services = [
        dataclasses.replace(service, public_methods=())
        if service.full_name.endswith("AuthService")
        else service
        for service in read_contract(descriptor_set)
    ]
    with pytest.raises(ValueError, match=r"no public method serves GET /\.well-known/jwks\.json"):
        jwt_authn(services, "dockyard", "dockyard")


def test_the_keys_are_fetched_from_the_gateways_own_listener(descriptor_set):
    def jwks_address(listen_host: str) -> dict:
        clusters = generate(descriptor_set, listen_host=listen_host, listen_port=8443)["static_resources"]
        (jwks,) = [c for c in clusters["clusters"] if c["name"] == JWKS_CLUSTER]
        return jwks["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]

    assert jwks_address("0.0.0.0")["socket_address"] == {"address": "127.0.0.1", "port_value": 8443}
    assert jwks_address("::")["socket_address"] == {"address": "::1", "port_value": 8443}
    assert jwks_address("10.0.0.7")["socket_address"] == {"address": "10.0.0.7", "port_value": 8443}
