"""The generator on its own: what the contract (plus the fixture services) turns into."""

import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from gateway.generate import DEFAULT_DESCRIPTOR_SET, build_config
from tests.gateway.support import REPO_ROOT

SERVICE_ADDRESSES = {
    "identity": "127.0.0.1:50051",
    "projects": "projects.internal:50052",
    "deployer": "127.0.0.1:50053",
    "audit": "[::1]:50054",
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
    clusters = {name: route["route"]["cluster"] for name, route in routes.items()}

    assert clusters == {
        "dockyard.system.v1.SystemService": "identity",  # served_by
        "dockyard.identity.v1.AuthService": "identity",  # the package's service
        "dockyard.identity.v1.UserService": "identity",
        "dockyard.identity.v1.TeamService": "identity",
        "dockyard.identity.v1.ApiTokenService": "identity",
        "dockyard.audit.v1.GatewayFixtureService/WatchWidgets": "audit",  # the package's service
        "dockyard.audit.v1.GatewayFixtureService": "audit",
        "dockyard.audit.v1.GatewayFixtureGrpcOnlyService": "projects",
        "no-route": "unrouted",
    }
    assert routes["dockyard.system.v1.SystemService"]["match"] == {
        "prefix": "/dockyard.system.v1.SystemService/"
    }
    # Internal services are not routed, whatever their HTTP rules; gRPC-only services are not transcoded.
    transcoder = http_filter(config, "envoy.filters.http.grpc_json_transcoder")
    assert sorted(transcoder["services"]) == [
        "dockyard.audit.v1.GatewayFixtureService",
        "dockyard.identity.v1.ApiTokenService",
        "dockyard.identity.v1.AuthService",
        "dockyard.identity.v1.TeamService",
        "dockyard.identity.v1.UserService",
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

    assert set(clusters) == set(SERVICE_ADDRESSES)
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
    with pytest.raises(ValueError, match=r"GatewayFixtureService is served by 'audit'"):
        generate(descriptor_set, service_addresses=addresses)


def test_admin_listens_on_loopback_only(descriptor_set):
    config = generate(descriptor_set, listen_host="0.0.0.0", admin_port=9999)
    assert config["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9999}


def test_cli_writes_a_configuration_envoy_accepts(tmp_path):
    """As the launcher runs it: without gen/ on PYTHONPATH, against the contract `make proto` built."""
    output = tmp_path / "envoy.yaml"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "gateway.generate", "-o", str(output), "--admin-port", "9911"],
        cwd=REPO_ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )
    config = yaml.safe_load(output.read_text())
    assert routes_by_name(config)["dockyard.system.v1.SystemService"]["route"]["cluster"] == "identity"
    assert "dockyard.system.v1.ComponentService" not in routes_by_name(config)
    assert http_filter(config, "envoy.filters.http.grpc_json_transcoder")["proto_descriptor"] == str(
        DEFAULT_DESCRIPTOR_SET.resolve()
    )
    addresses = {
        c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
            "socket_address"
        ]
        for c in config["static_resources"]["clusters"]
    }
    assert addresses == {
        name: {"address": "127.0.0.1", "port_value": port}
        for name, port in [("identity", 50051), ("projects", 50052), ("deployer", 50053), ("audit", 50054)]
    }

    envoy = pathlib.Path(sys.executable).parent / "envoy"
    check = subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(output)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "deprecated" not in (check.stdout + check.stderr).lower()
