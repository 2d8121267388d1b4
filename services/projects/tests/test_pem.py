"""The checks of an uploaded certificate and key (domain/pem.py): PEM chains with the leaf first,
the key matching the leaf, the domain covered (subjectAltName, wildcards one label deep, the common
name only without a subjectAltName), expiry in the future, the default issuer."""

import datetime

import pytest
from cryptography.hazmat.primitives import serialization

from dockyard_kit.errors import InvalidArgument
from services.projects.domain import pem
from tests.support.certs import issued_by_ca, key_pem, new_key, self_signed

NOW = datetime.datetime.now(datetime.UTC)


def refused(certificate: str, private_key: str, domain: str = "app.example.com") -> InvalidArgument:
    with pytest.raises(InvalidArgument) as error:
        pem.check(certificate, private_key, domain, NOW)
    return error.value


def test_a_matching_certificate_and_key_pass_with_expiry_and_issuer() -> None:
    issued = self_signed("app.example.com", organisation="Example Org")
    checked = pem.check(issued.certificate, issued.private_key, "app.example.com", NOW)
    assert checked.expires_at == issued.expires_at
    assert checked.issuer == "Example Org"


def test_the_issuer_defaults_to_the_common_name_without_an_organisation() -> None:
    issued = self_signed("app.example.com", common_name="Tiny CA", organisation=None)
    assert pem.check(issued.certificate, issued.private_key, "app.example.com", NOW).issuer == "Tiny CA"


def test_a_chain_with_the_leaf_first_passes() -> None:
    issued, _ = issued_by_ca("app.example.com", "www.example.com", ca_name="Chain Root")
    checked = pem.check(issued.certificate, issued.private_key, "www.example.com", NOW)
    assert checked.issuer == "Chain Root"
    assert checked.expires_at == issued.expires_at


def test_a_chain_out_of_order_is_refused() -> None:
    issued, ca = issued_by_ca("app.example.com")
    leaf = issued.certificate.removesuffix(ca)
    error = refused(ca + leaf, issued.private_key)
    assert error.field == "certificate"
    assert "issue" in error.description


def test_a_key_of_another_certificate_is_refused() -> None:
    issued = self_signed("app.example.com")
    error = refused(issued.certificate, key_pem(new_key()))
    assert (error.field, error.description) == ("private_key", "does not match the certificate's public key")


@pytest.mark.parametrize(
    ("names", "domain"),
    [
        (("*.example.com",), "app.example.com"),
        (("*.example.com",), "www.example.com"),
        (("other.example.org", "APP.Example.com"), "app.example.com"),
    ],
)
def test_covered_names(names, domain: str) -> None:
    issued = self_signed(*names)
    pem.check(issued.certificate, issued.private_key, domain, NOW)


@pytest.mark.parametrize(
    ("names", "domain"),
    [
        (("other.example.com",), "app.example.com"),
        (("*.example.com",), "example.com"),
        (("*.example.com",), "a.b.example.com"),
        (("*.app.example.com",), "app.example.com"),
        (("a*.example.com",), "app.example.com"),
    ],
)
def test_a_certificate_for_another_name_is_refused(names, domain: str) -> None:
    issued = self_signed(*names)
    error = refused(issued.certificate, issued.private_key, domain)
    assert error.field == "certificate"
    assert f"does not cover {domain}" in error.description


def test_the_common_name_counts_only_without_a_subject_alternative_name() -> None:
    cn_only = self_signed(common_name="app.example.com")
    pem.check(cn_only.certificate, cn_only.private_key, "app.example.com", NOW)
    with_san = self_signed("other.example.com", common_name="app.example.com")
    assert refused(with_san.certificate, with_san.private_key).field == "certificate"


def test_an_expired_certificate_is_refused() -> None:
    issued = self_signed("app.example.com", expires_in=datetime.timedelta(days=-1))
    error = refused(issued.certificate, issued.private_key)
    assert error.field == "certificate"
    assert error.description.startswith("expired at")


@pytest.mark.parametrize(
    ("certificate", "reason"),
    [
        ("", "is required"),
        ("not a certificate", "is not a PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "is not a PEM certificate"),
        ("x" * (pem.MAX_CERTIFICATE_CHARS + 1), "KiB"),
    ],
)
def test_garbage_certificates_are_refused(certificate: str, reason: str) -> None:
    error = refused(certificate, self_signed("app.example.com").private_key)
    assert error.field == "certificate"
    assert reason in error.description


def test_a_private_key_in_the_certificate_field_is_refused() -> None:
    issued = self_signed("app.example.com")
    error = refused(issued.certificate + issued.private_key, issued.private_key)
    assert error.field == "certificate"
    assert "PRIVATE KEY" in error.description


@pytest.mark.parametrize(
    ("private_key", "reason"),
    [
        ("", "is required"),
        ("garbage", "is not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "is not a PEM private key"),
    ],
)
def test_garbage_keys_are_refused(private_key: str, reason: str) -> None:
    error = refused(self_signed("app.example.com").certificate, private_key)
    assert error.field == "private_key"
    assert reason in error.description


def test_a_passphrase_protected_key_is_refused() -> None:
    key = new_key()
    issued = self_signed("app.example.com", key=key)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    error = refused(issued.certificate, locked)
    assert (error.field, error.description) == ("private_key", "must not be protected by a passphrase")
