"""TLS certificates for tests, made on the spot with `cryptography`: self-signed or issued by a
throw-away CA, for any host names (subjectAltName, or a common name only), valid or expired."""

import dataclasses
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclasses.dataclass(frozen=True)
class Issued:
    # The PEM a client uploads: the certificate, then its issuers (if any).
    certificate: str
    private_key: str
    expires_at: datetime.datetime


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def _build(subject, issuer, public_key, signing_key, *, names, expires_in, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, now + expires_in) - datetime.timedelta(days=30))
        .not_valid_after(now + expires_in)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def self_signed(
    *names: str,
    common_name: str = "dockyard test",
    organisation: str | None = "Dockyard Test CA",
    expires_in: datetime.timedelta = datetime.timedelta(days=90),
    key=None,
) -> Issued:
    """A certificate for `names` (subjectAltName; none: the common name alone covers it)."""
    key = key or new_key()
    subject = _name(common_name, organisation)
    certificate = _build(
        subject, subject, key.public_key(), key, names=names, expires_in=expires_in, ca=False
    )
    return Issued(
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem(key),
        certificate.not_valid_after_utc,
    )


def issued_by_ca(
    *names: str,
    ca_name: str = "Dockyard Test Root",
    expires_in: datetime.timedelta = datetime.timedelta(days=60),
) -> tuple[Issued, str]:
    """A leaf for `names` issued by a new CA: (the leaf with its chain, the CA certificate's PEM)."""
    ca_key, leaf_key = new_key(), new_key()
    ca_subject = _name(ca_name, ca_name)
    ca = _build(
        ca_subject,
        ca_subject,
        ca_key.public_key(),
        ca_key,
        names=(),
        expires_in=datetime.timedelta(days=365),
        ca=True,
    )
    leaf = _build(
        _name(names[0]),
        ca_subject,
        leaf_key.public_key(),
        ca_key,
        names=names,
        expires_in=expires_in,
        ca=False,
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    chain = leaf.public_bytes(serialization.Encoding.PEM).decode() + ca_pem
    return Issued(chain, key_pem(leaf_key), leaf.not_valid_after_utc), ca_pem
