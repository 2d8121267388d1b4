"""Settings only the projects service reads."""

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator

from dockyard_kit.config import Settings


def parse_resolver(value: str) -> tuple[str, int]:
    """`ip`, `ip:port` or `[ipv6]:port` -> (ip, port); port 53 by default."""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address with an optional :port, got {value!r}") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {value!r}")
    return host, int(port)


class ProjectsSettings(Settings):
    # How often the application_stats materialized view is refreshed.
    DOCKYARD_STATS_REFRESH_SECONDS: Annotated[float, Field(gt=0)] = 30.0
    # The DNS resolver that domain verification asks for TXT records (ip, ip:port or [ipv6]:port);
    # empty: the system's resolvers (/etc/resolv.conf).
    DOCKYARD_DNS_RESOLVER: str = ""
    # How long one verification waits for the resolver before answering UNAVAILABLE.
    DOCKYARD_DNS_TIMEOUT_SECONDS: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("DOCKYARD_DNS_RESOLVER")
    @classmethod
    def _resolver(cls, value: str) -> str:
        if value:
            parse_resolver(value)
        return value
