"""Further replicas of the running stack's services: a second identity and a second projects
process, each joining the stack's database and NATS with the secrets file the stack's bootstrap
step wrote for its service (the deny-list tests check that every replica refuses a revoked token)."""

import contextlib
import os
import pathlib
import re

from dockyard_kit.bootstrap import service_environment
from dockyard_kit.stack.components import Nats
from tests.support.paths import REPO_ROOT
from tests.support.processes import ServiceProcess
from tests.support.stack_process import descendants


def stack_environment(stack) -> dict[str, str]:
    """What a further replica needs to join the running stack: its database, NATS and the addresses
    of its peers (service_environment takes the administrative login and master secret out)."""
    output = stack.output()
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'gen'}",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": re.search(r"PostgreSQL on 127\.0\.0\.1:(\d+)", output)[1],
        "POSTGRES_DATABASE": "dockyard",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD_FILE": str(stack.data_dir / "postgres" / "postgres-password"),
        "NATS_URL": re.search(r"NATS JetStream on (nats://\S+)", output)[1],
        "DOCKYARD_NATS_USER": Nats.ADMIN_USER,
        "DOCKYARD_NATS_PASSWORD_FILE": str(Nats.password_file_in(stack.data_dir, Nats.ADMIN_USER)),
        "DOCKYARD_SECRET_KEY_FILE": str(stack.data_dir / "secret.key"),
        **{f"DOCKYARD_{name.upper()}_ADDR": address for name, address in stack.addresses.items()},
    }


@contextlib.contextmanager
def second_replicas(stack):
    """{"identity": ..., "projects": ...}: one more process of each, serving, until the block ends."""
    environment = stack_environment(stack)
    secrets_dir = stack.data_dir / "service-secrets"
    identity = ServiceProcess("services.identity", service_environment(environment, "identity", secrets_dir))
    projects = ServiceProcess("services.projects", service_environment(environment, "projects", secrets_dir))
    try:
        identity.wait_health("SERVING")
        projects.wait_health("SERVING")
        yield {"identity": identity, "projects": projects}
    finally:
        assert identity.stop() == 0
        assert projects.stop() == 0


@contextlib.contextmanager
def service_replica(stack, service: str, **settings: str):
    """One more process of `service` joining the running stack (its database, NATS, peers), with
    `settings` (DOCKYARD_* variables) added to its environment, serving until the block ends."""
    environment = {**stack_environment(stack), **settings}
    secrets_dir = stack.data_dir / "service-secrets"
    replica = ServiceProcess(f"services.{service}", service_environment(environment, service, secrets_dir))
    try:
        replica.wait_health("SERVING")
        yield replica
    finally:
        replica.stop()


def stack_service_pid(stack, service: str) -> int:
    """The stack's own process of `service` (the stack stops as a whole when one of its services
    dies, so crash tests pause it and kill a replica instead)."""
    for pid in descendants(stack.process.pid):
        try:
            argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"services.{service}".encode() in argv:
            return pid
    raise AssertionError(f"the stack runs no {service} process")
