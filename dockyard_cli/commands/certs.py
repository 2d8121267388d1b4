"""Certificates: list, add, expiring, delete."""

import pathlib

import typer

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.commands.domains import DOMAIN_ARGUMENT, PROJECT_OPTION
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, domain_id, pages

app = typer.Typer(help="TLS certificates of domains.", no_args_is_help=True)
COLUMNS = ["id", "domain", "issuer", "expires_at", "project_id"]
FIELDS = ["id", "domain_id", "domain", "issuer", "expires_at", "created_at", "project_id"]
PEM_FILE = {"exists": True, "dir_okay": False, "readable": True}


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.CertificateServiceStub)


@command(app, "list")
def list_certs(ctx: typer.Context, domain: str = DOMAIN_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """A domain's certificates.

    Example:

        dockyard certs list api.example.com --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListCertificatesRequest(
        domain_id=domain_id(client, domain, project), page_size=PAGE_SIZE
    )
    state(ctx).output.table(
        pages(client, stub.ListCertificates, request, "certificates"), COLUMNS, key="certificates"
    )


@command(app, "add")
def add_cert(
    ctx: typer.Context,
    domain: str = DOMAIN_ARGUMENT,
    cert: pathlib.Path = typer.Option(..., "--cert", help="The certificate (chain) in PEM.", **PEM_FILE),
    key: pathlib.Path = typer.Option(
        ..., "--key", help="Its private key in PEM (stored encrypted).", **PEM_FILE
    ),
    issuer: str = typer.Option("", help="Defaults to the certificate's issuer."),
    project: str = PROJECT_OPTION,
) -> None:
    """Upload a certificate and its key for a domain.

    Example:

        dockyard certs add api.example.com --cert cert.pem --key key.pem --project my-saas-app
    """
    client, stub = _stub(ctx)
    certificate = projects_pb2.Certificate(
        certificate=cert.read_text(), private_key=key.read_text(), issuer=issuer
    )
    request = projects_pb2.CreateCertificateRequest(
        domain_id=domain_id(client, domain, project), certificate=certificate
    )
    state(ctx).output.record(client.call(stub.CreateCertificate, request), FIELDS)


@command(app, "expiring")
def expiring_certs(
    ctx: typer.Context,
    within_days: int = typer.Option(
        30, "--within-days", min=1, max=3650, help="Expiring within this many days."
    ),
) -> None:
    """Certificates expiring soon, across every project you can see, soonest first.

    Example:

        dockyard certs expiring --within-days 14
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListExpiringCertificatesRequest(within_days=within_days, page_size=PAGE_SIZE)
    state(ctx).output.table(
        pages(client, stub.ListExpiringCertificates, request, "certificates"), COLUMNS, key="certificates"
    )


@command(app, "delete")
def delete_cert(
    ctx: typer.Context, certificate_id: str = typer.Argument(..., help="The certificate's id.")
) -> None:
    """Delete a certificate.

    Example:

        dockyard certs delete 7a1e...
    """
    client, stub = _stub(ctx)
    client.call(stub.DeleteCertificate, projects_pb2.DeleteCertificateRequest(certificate_id=certificate_id))
    state(ctx).output.done(f"Deleted certificate {certificate_id}.", {"id": certificate_id})
