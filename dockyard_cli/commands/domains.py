"""Domains: list, add, get, verify, delete."""

import typer

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.context import command, state
from dockyard_cli.resolve import PAGE_SIZE, application_id, database_id, domain_id, pages, project_id

app = typer.Typer(help="Custom domains, routed to an application or a database.", no_args_is_help=True)
COLUMNS = ["id", "domain", "target_type", "target_id", "tls_enabled", "verification_state"]
FIELDS = ["id", "project_id", "domain", "target_type", "target_id", "tls_enabled", "verification_state",
          "verification_record_name", "verification_record_value", "verified_at", "verified_by", "created_at"]  # fmt: skip
PROJECT_OPTION = typer.Option(None, "--project", "-p", envvar="DOCKYARD_PROJECT", help="The project (name or id), when DOMAIN is a host name.")  # fmt: skip
DOMAIN_ARGUMENT = typer.Argument(
    ..., metavar="DOMAIN", help="The domain's id, or its host name with --project."
)


def _stub(ctx):
    client = state(ctx).client
    return client, client.stub(projects_pb2_grpc.DomainServiceStub)


@command(app, "list")
def list_domains(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
) -> None:
    """A project's domains.

    Example:

        dockyard domains list --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.ListDomainsRequest(project_id=project_id(client, project), page_size=PAGE_SIZE)
    state(ctx).output.table(pages(client, stub.ListDomains, request, "domains"), COLUMNS, key="domains")


@command(app, "add")
def add_domain(
    ctx: typer.Context,
    host: str = typer.Argument(..., help="The host name, e.g. api.example.com."),
    project: str = typer.Option(..., "--project", "-p", envvar="DOCKYARD_PROJECT", help="Name or id."),
    app_ref: str = typer.Option("", "--app", help="Route it to this application (name or id)."),
    database: str = typer.Option("", "--database", help="Route it to this database (name or id)."),
    tls: bool = typer.Option(True, "--tls/--no-tls", help="Serve it over TLS."),
) -> None:
    """Claim a host name for the project; it is routed once verified (see `domains verify`).

    Example:

        dockyard domains add api.example.com --project my-saas-app --app web
    """
    if bool(app_ref) == bool(database):
        raise typer.BadParameter("give exactly one of --app and --database")
    client, stub = _stub(ctx)
    parent = project_id(client, project)
    if app_ref:
        target_type, target = "application", application_id(client, app_ref, parent)
    else:
        target_type, target = "database", database_id(client, database, parent)
    domain = projects_pb2.Domain(domain=host, target_type=target_type, target_id=target, tls_enabled=tls)
    created = client.call(
        stub.CreateDomain, projects_pb2.CreateDomainRequest(project_id=parent, domain=domain)
    )
    output = state(ctx).output
    output.record(created, FIELDS)
    if not output.json:
        output.note(
            f"Publish a TXT record {created.verification_record_name} = {created.verification_record_value}, "
            f"then run `dockyard domains verify {created.id}`."
        )


@command(app, "get")
def get_domain(ctx: typer.Context, domain: str = DOMAIN_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """One domain, with its DNS challenge.

    Example:

        dockyard domains get api.example.com --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.GetDomainRequest(domain_id=domain_id(client, domain, project))
    state(ctx).output.record(client.call(stub.GetDomain, request), FIELDS)


@command(app, "verify")
def verify_domain(ctx: typer.Context, domain: str = DOMAIN_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """Check the domain's TXT record; it becomes verified (and routed) once DNS shows it.

    Example:

        dockyard domains verify api.example.com --project my-saas-app
    """
    client, stub = _stub(ctx)
    request = projects_pb2.VerifyDomainRequest(domain_id=domain_id(client, domain, project))
    state(ctx).output.record(client.call(stub.VerifyDomain, request), FIELDS)


@command(app, "delete")
def delete_domain(ctx: typer.Context, domain: str = DOMAIN_ARGUMENT, project: str = PROJECT_OPTION) -> None:
    """Delete a domain and its certificates.

    Example:

        dockyard domains delete api.example.com --project my-saas-app
    """
    client, stub = _stub(ctx)
    target = domain_id(client, domain, project)
    client.call(stub.DeleteDomain, projects_pb2.DeleteDomainRequest(domain_id=target))
    state(ctx).output.done(f"Deleted domain {domain}.", {"id": target})
