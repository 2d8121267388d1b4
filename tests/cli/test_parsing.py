"""The command line's pure parts: durations and points in time, KEY=value and port arguments, git
URLs, reading a JWT's expiry, and the credentials file's permissions."""

import base64
import datetime
import json
import stat

import grpc
import pytest
import typer
from google.rpc import error_details_pb2, status_pb2

from dockyard_cli.client import describe, expired, token_expiry
from dockyard_cli.commands.apps import parse_assignment, parse_port, repository_of
from dockyard_cli.credentials import CredentialStore, Session
from dockyard_cli.durations import parse_duration, parse_point

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("12h", 43200),
        ("1d", 86400),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("45s", 45),
        ("1D", 86400),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "m", "1x", "1d2", "-1d", "0m", "1.5h", "d1"])
def test_what_is_not_a_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_point_is_a_duration_ago_or_a_timestamp():
    assert parse_point("1d", NOW) == NOW - datetime.timedelta(days=1)
    assert parse_point("2026-12-01T08:00:00Z", NOW) == datetime.datetime(2026, 12, 1, 8, tzinfo=datetime.UTC)
    assert parse_point("2026-12-01", NOW) == datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    offset = parse_point("2026-12-01T08:00:00+02:00", NOW)
    assert offset == datetime.datetime(2026, 12, 1, 6, tzinfo=datetime.UTC)
    with pytest.raises(ValueError, match="neither a duration"):
        parse_point("yesterday", NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PORT=8080", ("PORT", "8080")),
        ("EMPTY=", ("EMPTY", "")),
        ("URL=postgres://u:p@h/db?x=1", ("URL", "postgres://u:p@h/db?x=1")),
        ("_X=a b", ("_X", "a b")),
    ],
)
def test_assignments(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["PORT", "=1", "1X=2", "A-B=1", "A B=1"])
def test_what_is_not_an_assignment(text):
    with pytest.raises(typer.BadParameter):
        parse_assignment(text)


def test_ports():
    assert parse_port("8080") == {"target": 8080}
    assert parse_port("8080:8081") == {"target": 8080, "published": 8081, "mode": "host"}
    assert parse_port("53:5353/udp") == {"target": 53, "published": 5353, "mode": "host", "protocol": "udp"}
    for bad in ("", "http", "80:", "80:81:82", "80/sctp"):
        with pytest.raises(typer.BadParameter):
            parse_port(bad)


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/acme/api.git", "acme/api"),
        ("https://gitlab.example.com/group/sub/api", "sub/api"),
        ("git@github.com:acme/api.git", "acme/api"),
        ("file:///tmp/x/repository.git", "x/repository"),
    ],
)
def test_repositories_from_git_urls(url, repository):
    assert repository_of(url) == repository


def jwt_with(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256'})}.{part(claims)}.c2ln"


def test_a_tokens_expiry_is_read_without_checking_it():
    assert token_expiry(jwt_with({"exp": 1700000000})) == 1700000000
    assert token_expiry("dky_not-a-jwt") is None
    assert token_expiry("a.!!!.c") is None
    assert expired(jwt_with({"exp": 1}))
    assert not expired(jwt_with({"exp": 4102444800}))
    # Unreadable: the server decides.
    assert not expired("opaque")


def test_credentials_are_private_and_kept_per_server(tmp_path):
    store = CredentialStore(tmp_path / "dockyard")
    store.save("a:1", Session("access-a", "refresh-a", "ada"))
    store.save("b:2", Session("access-b", "refresh-b", "bob"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert store.load("a:1") == Session("access-a", "refresh-a", "ada")
    assert store.forget("a:1") == Session("access-a", "refresh-a", "ada")
    assert store.load("a:1") is None
    assert store.load("b:2").username == "bob"
    assert [p.name for p in store.directory.iterdir()] == ["credentials.json"]


def test_a_damaged_credentials_file_holds_no_session(tmp_path):
    store = CredentialStore(tmp_path / "dockyard")
    store.directory.mkdir()
    store.path.write_text("{not json")
    assert store.load("a:1") is None
    store.save("a:1", Session("x", "y"))
    assert store.load("a:1") == Session("x", "y", "")


class FakeRpcError(grpc.RpcError):
    """What a failed call raises, with the trailers a server sends."""

    def __init__(self, code, details, fields=()):
        self._code, self._details = code, details
        bad_request = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=f) for f in fields]
        )
        status = status_pb2.Status(code=code.value[0], message=details)
        status.details.add().Pack(bad_request)
        self._trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailers


def test_errors_are_one_line_naming_the_field():
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert describe(FakeRpcError(invalid, "name: too short", ["name"]), "s:1") == "name: too short"
    assert describe(FakeRpcError(invalid, "bad value", ["docker_config.ports[0]"]), "s:1") == (
        "bad value (field: docker_config.ports[0])"
    )
    assert describe(FakeRpcError(grpc.StatusCode.NOT_FOUND, ""), "s:1") == "not found"
    unreachable = describe(
        FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"), "s:1"
    )
    assert unreachable.startswith("cannot reach the Dockyard server at s:1")
    assert "\n" not in unreachable
