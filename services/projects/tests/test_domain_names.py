"""Host names as domains store them (domain/domains.py normalize_domain): lower-case, no trailing
dot, IDNA for international names, labels 1-63 characters, at most 253 in all, and nothing the
migration's check_domain_format would refuse."""

import re

import pytest

from dockyard_kit.errors import InvalidArgument
from services.projects.domain.domains import normalize_domain

# The migration's check_domain_format, for a cross-check.
CHECK_DOMAIN_FORMAT = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("app.example.com", "app.example.com"),
        ("App.Example.COM", "app.example.com"),
        ("app.example.com.", "app.example.com"),
        ("  api.example.org  ", "api.example.org"),
        ("a-b.c-d.example.io", "a-b.c-d.example.io"),
        ("1.example.com", "1.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        (f"{'a' * 63}.example.com", f"{'a' * 63}.example.com"),
    ],
)
def test_valid_names_are_normalized(given: str, stored: str) -> None:
    assert normalize_domain(given) == stored
    assert CHECK_DOMAIN_FORMAT.match(stored)


def test_total_length_is_at_most_253() -> None:
    labels = ["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"]  # 63*3 + 57 + 3 + 4 dots = 253
    longest = ".".join(labels)
    assert len(longest) == 253
    assert normalize_domain(longest) == longest
    with pytest.raises(InvalidArgument) as error:
        normalize_domain("x" + longest)
    assert error.value.field == "domain"
    assert "253" in error.value.description


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "required"),
        ("   ", "required"),
        (".", "required"),
        ("localhost", "fully qualified"),
        ("example..com", "1-63"),
        (".example.com", "1-63"),
        (f"{'a' * 64}.example.com", "1-63"),
        ("-app.example.com", "hyphen"),
        ("app-.example.com", "hyphen"),
        ("app_1.example.com", "hyphen"),
        ("app example.com", "hyphen"),
        ("*.example.com", "hyphen"),
        ("app.example.com/path", "hyphen"),
        ("http://app.example.com", "hyphen"),
        ("app.example.123", "top-level"),
        ("app.example.-com", "hyphen"),
    ],
)
def test_invalid_names_are_refused_naming_domain(given: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        normalize_domain(given)
    assert error.value.field == "domain"
    assert reason in error.value.description


def test_an_international_name_that_idna_cannot_encode_is_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        normalize_domain(f"{'ü' * 70}.example")
    assert error.value.field == "domain"
