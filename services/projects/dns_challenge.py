"""The DNS challenge that proves a project controls a host name: a TXT record
`_dockyard-challenge.<domain>` holding `dockyard-verify=<the domain's verification token>` (random, made by the database for
each claim: the migration 0004_domain_verification), read
from the resolver of DOCKYARD_DNS_RESOLVER (the system's when empty)."""

import dataclasses

import dns.asyncresolver
import dns.exception
import dns.resolver

from dockyard_kit.errors import Unavailable
from services.projects.settings import parse_resolver

RECORD_PREFIX = "_dockyard-challenge."
VALUE_PREFIX = "dockyard-verify="


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}{domain}"


def record_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


@dataclasses.dataclass(frozen=True)
class TxtLookup:
    """`resolver`: DOCKYARD_DNS_RESOLVER; `timeout`: seconds for the whole lookup."""

    resolver: str
    timeout: float

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if not self.resolver:
            resolver = dns.asyncresolver.Resolver()
        else:
            host, port = parse_resolver(self.resolver)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
        resolver.lifetime = self.timeout
        return resolver

    async def values(self, name: str) -> set[str]:
        """The TXT strings at `name` (each record's strings joined, as RFC 7208 reads them); none
        when the name or its TXT records do not exist. UNAVAILABLE when no resolver answers."""
        try:
            answer = await self._resolver().resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return set()
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
            raise Unavailable(
                f"the DNS resolver did not answer for {name} ({error}); retry shortly"
            ) from None
        return {b"".join(record.strings).decode("utf-8", "replace") for record in answer}
