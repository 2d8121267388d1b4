"""The DNS challenge's lookup against a real DNS server on 127.0.0.1 (dnslib's), and the resolver
setting: what verification sees, and what it answers when the resolver does not."""

import pydantic
import pytest

from dockyard_kit.errors import Unavailable
from services.projects.dns_challenge import TxtLookup, record_name, record_value
from services.projects.settings import ProjectsSettings, parse_resolver
from tests.projects.dns_server import DnsServer


@pytest.fixture(scope="module")
def dns():
    with DnsServer() as server:
        yield server


def test_the_challenge_names_the_host_and_the_token():
    assert record_name("app.example.com") == "_dockyard-challenge.app.example.com"
    assert record_value("abc123") == "dockyard-verify=abc123"


async def test_every_txt_value_at_the_name_is_seen(dns):
    dns.records.set("_dockyard-challenge.seen.example.com", "dockyard-verify=abc", "v=spf1 -all")
    values = await TxtLookup(dns.address, 2).values("_dockyard-challenge.seen.example.com")
    assert values == {"dockyard-verify=abc", "v=spf1 -all"}
    assert "_dockyard-challenge.seen.example.com" in dns.records.queries


async def test_a_missing_name_has_no_values(dns):
    assert await TxtLookup(dns.address, 2).values("_dockyard-challenge.missing.example.com") == set()


async def test_a_resolver_that_does_not_answer_is_unavailable():
    # Nothing listens on the discard port of the loopback address.
    with pytest.raises(Unavailable, match="did not answer"):
        await TxtLookup("127.0.0.1:9", 0.5).values("_dockyard-challenge.x.example.com")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("10.0.0.53", ("10.0.0.53", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("[::1]:53", ("::1", 53))],
)
def test_the_resolver_setting_takes_an_address_and_a_port(value, parsed):
    assert parse_resolver(value) == parsed
    assert ProjectsSettings(DOCKYARD_DNS_RESOLVER=value).DOCKYARD_DNS_RESOLVER == value


@pytest.mark.parametrize("value", ["dns.example.com", "127.0.0.1:0", "127.0.0.1:dns", "[::1]:99999"])
def test_a_bad_resolver_setting_is_refused_by_name(value):
    with pytest.raises(pydantic.ValidationError, match="DOCKYARD_DNS_RESOLVER"):
        ProjectsSettings(DOCKYARD_DNS_RESOLVER=value)
