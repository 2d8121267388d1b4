"""docker_config: every key parses, every bad value names its exact key path."""

import pytest

from dockyard_kit import docker_config
from dockyard_kit.errors import InvalidArgument
from dockyard_kit.sealing import SECRET_MASK

FULL = {
    "image": "nginx:1.27",
    "command": ["sh", "-c", "echo hi"],
    "ports": [
        {"target": 80, "published": 8080, "protocol": "tcp", "mode": "host"},
        {"target": 53, "protocol": "udp"},
    ],
    "health_check": {
        "test": ["CMD", "true"],
        "interval_s": 2,
        "timeout_s": 1.5,
        "retries": 3,
        "start_period_s": 5,
    },
    "resources": {"cpus": 0.5, "memory_mb": 256},
    "pull": "always",
    "registry_auth": {"username": "u", "password": "p", "server_address": "reg.example:5000"},
}


def test_every_key_parses():
    config = docker_config.parse(FULL)
    assert config.image == "nginx:1.27"
    assert config.command == ("sh", "-c", "echo hi")
    assert config.ports == (
        docker_config.Port(target=80, published=8080, protocol="tcp", mode="host"),
        docker_config.Port(target=53, published=None, protocol="udp", mode="ingress"),
    )
    assert config.health_check == docker_config.HealthCheck(
        test=("CMD", "true"), interval_s=2.0, timeout_s=1.5, retries=3, start_period_s=5.0
    )
    assert config.resources == docker_config.Resources(cpus=0.5, memory_mb=256)
    assert config.pull == "always"
    assert config.registry_auth == docker_config.RegistryAuth("u", "p", "reg.example:5000")


def test_defaults():
    config = docker_config.parse({})
    assert config == docker_config.parse(None)
    assert config.pull == "missing"
    assert config.ports == ()
    assert config.resources == docker_config.Resources(
        docker_config.DEFAULT_CPUS, docker_config.DEFAULT_MEMORY_MB
    )
    assert (
        docker_config.parse({"resources": {"cpus": 2}}).resources.memory_mb == docker_config.DEFAULT_MEMORY_MB
    )


def test_string_forms():
    config = docker_config.parse({"command": "echo hi", "health_check": {"test": "wget -q localhost"}})
    assert config.command == "echo hi"
    assert config.health_check.test == ("CMD-SHELL", "wget -q localhost")


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([], "docker_config"),
        ({"nope": 1}, "docker_config.nope"),
        ({"image": ""}, "docker_config.image"),
        ({"image": 3}, "docker_config.image"),
        ({"command": []}, "docker_config.command"),
        ({"command": ["a", 1]}, "docker_config.command[1]"),
        ({"ports": {}}, "docker_config.ports"),
        ({"ports": ["80"]}, "docker_config.ports[0]"),
        ({"ports": [{"published": 80}]}, "docker_config.ports[0].target"),
        ({"ports": [{"target": 0}]}, "docker_config.ports[0].target"),
        ({"ports": [{"target": 65536}]}, "docker_config.ports[0].target"),
        ({"ports": [{"target": True}]}, "docker_config.ports[0].target"),
        ({"ports": [{"target": 80}, {"target": 81, "published": "x"}]}, "docker_config.ports[1].published"),
        ({"ports": [{"target": 80}, {"target": 81, "mode": "bridge"}]}, "docker_config.ports[1].mode"),
        ({"ports": [{"target": 80, "protocol": "sctp"}]}, "docker_config.ports[0].protocol"),
        ({"ports": [{"target": 80, "extra": 1}]}, "docker_config.ports[0].extra"),
        ({"health_check": "x"}, "docker_config.health_check"),
        ({"health_check": {}}, "docker_config.health_check.test"),
        ({"health_check": {"test": [1]}}, "docker_config.health_check.test[0]"),
        ({"health_check": {"test": "x", "interval_s": 0}}, "docker_config.health_check.interval_s"),
        ({"health_check": {"test": "x", "timeout_s": "1"}}, "docker_config.health_check.timeout_s"),
        ({"health_check": {"test": "x", "retries": -1}}, "docker_config.health_check.retries"),
        ({"health_check": {"test": "x", "start_period_s": -2}}, "docker_config.health_check.start_period_s"),
        ({"health_check": {"test": "x", "every": 1}}, "docker_config.health_check.every"),
        ({"resources": {"cpus": 0}}, "docker_config.resources.cpus"),
        ({"resources": {"memory_mb": 1.5}}, "docker_config.resources.memory_mb"),
        ({"resources": {"memory_mb": 0}}, "docker_config.resources.memory_mb"),
        ({"resources": {"disk": 1}}, "docker_config.resources.disk"),
        ({"pull": "never"}, "docker_config.pull"),
        ({"registry_auth": {"username": "u"}}, "docker_config.registry_auth.password"),
        ({"registry_auth": {"password": "p"}}, "docker_config.registry_auth.username"),
        ({"registry_auth": {"username": "u", "password": ""}}, "docker_config.registry_auth.password"),
        (
            {"registry_auth": {"username": "u", "password": "p", "server_address": 5}},
            "docker_config.registry_auth.server_address",
        ),
        (
            {"registry_auth": {"username": "u", "password": "p", "token": "t"}},
            "docker_config.registry_auth.token",
        ),
    ],
)
def test_bad_values_name_their_path(value, path):
    with pytest.raises(InvalidArgument) as raised:
        docker_config.parse(value)
    assert raised.value.field == path


def test_masked_hides_only_the_password():
    shown = docker_config.masked(FULL)
    assert shown["registry_auth"] == {
        "username": "u",
        "password": SECRET_MASK,
        "server_address": "reg.example:5000",
    }
    assert FULL["registry_auth"]["password"] == "p"  # the input is not changed
    assert {k: v for k, v in shown.items() if k != "registry_auth"} == {
        k: v for k, v in FULL.items() if k != "registry_auth"
    }
    assert docker_config.masked({"image": "x"}) == {"image": "x"}
    assert docker_config.masked(None) is None
