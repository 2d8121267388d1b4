"""Checks of an uploaded TLS certificate and its private key (pure): the certificate field holds one
or more PEM certificates, the domain's own (the leaf) first and then, optionally, the chain that
issued it; the private key is the leaf's; the leaf covers the domain and has not expired."""

import dataclasses
import datetime
import itertools
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from dockyard_kit.errors import InvalidArgument

# Far above any real chain or key; keeps a hostile upload from costing much to parse.
MAX_CERTIFICATE_CHARS = 64 * 1024
MAX_PRIVATE_KEY_CHARS = 16 * 1024
MAX_ISSUER_CHARS = 255

_PEM_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")


@dataclasses.dataclass(frozen=True)
class CheckedCertificate:
    expires_at: datetime.datetime
    # The leaf's issuer organisation, else its common name: the default for Certificate.issuer.
    issuer: str


def check(
    certificate_pem: str, private_key_pem: str, domain: str, now: datetime.datetime
) -> CheckedCertificate:
    """What the API stores about a certificate for `domain` (a normalized host name), once every
    check passes; otherwise INVALID_ARGUMENT naming `certificate` or `private_key` and saying why."""
    chain = load_chain(certificate_pem)
    leaf = chain[0]
    key = load_private_key(private_key_pem)
    if _public_key_bytes(key.public_key()) != _public_key_bytes(leaf.public_key()):
        raise InvalidArgument("private_key", "does not match the certificate's public key")
    names = covered_names(leaf)
    if not any(name_matches(pattern, domain) for pattern in names):
        listed = ", ".join(names) if names else "no host name"
        raise InvalidArgument("certificate", f"does not cover {domain} (it names {listed})")
    expires_at = leaf.not_valid_after_utc
    if expires_at <= now:
        raise InvalidArgument("certificate", f"expired at {expires_at.isoformat()}")
    return CheckedCertificate(expires_at=expires_at, issuer=issuer_name(leaf))


def load_chain(certificate_pem: str) -> list[x509.Certificate]:
    if not certificate_pem.strip():
        raise InvalidArgument("certificate", "is required (PEM)")
    if len(certificate_pem) > MAX_CERTIFICATE_CHARS:
        raise InvalidArgument("certificate", f"must be at most {MAX_CERTIFICATE_CHARS // 1024} KiB of PEM")
    # The certificate is stored and shown in clear: a private key pasted into it must not be.
    others = sorted({label for label in _PEM_LABEL.findall(certificate_pem) if label != "CERTIFICATE"})
    if others:
        raise InvalidArgument(
            "certificate",
            f"must hold only CERTIFICATE blocks, not {', '.join(others)} (keys go in private_key)",
        )
    try:
        chain = x509.load_pem_x509_certificates(certificate_pem.encode())
    except ValueError:
        raise InvalidArgument("certificate", "is not a PEM certificate") from None
    for position, (issued, issuer) in enumerate(itertools.pairwise(chain), start=1):
        try:
            issued.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise InvalidArgument(
                "certificate",
                f"certificate {position + 1} did not issue certificate {position}: put the domain's"
                " certificate first, then each issuer in order",
            ) from None
    return chain


def load_private_key(private_key_pem: str):
    if not private_key_pem.strip():
        raise InvalidArgument("private_key", "is required (PEM)")
    if len(private_key_pem) > MAX_PRIVATE_KEY_CHARS:
        raise InvalidArgument("private_key", f"must be at most {MAX_PRIVATE_KEY_CHARS // 1024} KiB of PEM")
    try:
        return serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except TypeError:
        raise InvalidArgument("private_key", "must not be protected by a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgument("private_key", "is not a PEM private key") from None


def _public_key_bytes(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def covered_names(certificate: x509.Certificate) -> list[str]:
    """The host names a certificate is valid for: its subjectAltName DNS names, or, only when it
    has no subjectAltName at all, its subject's common names (RFC 6125)."""
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    else:
        names = alternative.value.get_values_for_type(x509.DNSName)
    return [name.lower().rstrip(".") for name in names]


def name_matches(pattern: str, domain: str) -> bool:
    """A certificate name covers the domain exactly, or as a wildcard `*.example.com` standing for
    exactly one left-most label."""
    if pattern == domain:
        return True
    if not pattern.startswith("*."):
        return False
    label, dot, parent = domain.partition(".")
    return bool(label and dot) and parent == pattern[2:]


def issuer_name(certificate: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attributes = certificate.issuer.get_attributes_for_oid(oid)
        if attributes:
            return str(attributes[0].value)[:MAX_ISSUER_CHARS]
    return certificate.issuer.rfc4514_string()[:MAX_ISSUER_CHARS]
