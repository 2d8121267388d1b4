"""The Dockyard services, listed once: configuration, the gateway generator, the embedded stack and
the tests derive their lists of services, addresses and ports from here.

Each service's own settings class lives with the service (`<package>.settings`) and is handed to
the kit by its `ServiceSpec`; the kit imports no service.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServiceEntry:
    name: str  # also its database schema and role, its NATS subjects' prefix, its gateway cluster
    default_port: int  # its gRPC port when DOCKYARD_<NAME>_ADDR is not set
    log_colour: str  # its prefix in `make run`'s output

    @property
    def package(self) -> str:
        """What `python -m` runs."""
        return f"services.{self.name}"

    @property
    def address_variable(self) -> str:
        """Where its peers reach it: DOCKYARD_<NAME>_ADDR."""
        return f"DOCKYARD_{self.name.upper()}_ADDR"

    @property
    def default_address(self) -> str:
        return f"127.0.0.1:{self.default_port}"


# In start-up order: identity first (the others fetch its keys).
SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("identity", 50051, "green"),
    ServiceEntry("projects", 50052, "cyan"),
    ServiceEntry("deployer", 50053, "bright_red"),
    ServiceEntry("audit", 50054, "bright_blue"),
    ServiceEntry("notifications", 50055, "bright_magenta"),
)
SERVICE_NAMES: tuple[str, ...] = tuple(entry.name for entry in SERVICES)

# The gateway's HTTP/JSON and gRPC port when none is given (DOCKYARD_GATEWAY_PORT for `make run`).
DEFAULT_GATEWAY_PORT = 8080


def entry(name: str) -> ServiceEntry:
    """The registry entry of a service; KeyError names the unknown one."""
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(f"no Dockyard service is called {name!r} (known: {', '.join(SERVICE_NAMES)})")
