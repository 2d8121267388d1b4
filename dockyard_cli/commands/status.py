"""`dockyard status`: the platform's health."""

import typer

from dockyard.system.v1 import system_pb2, system_pb2_grpc
from dockyard_cli.client import CliError
from dockyard_cli.context import command, state
from dockyard_cli.output import as_dict


def register(root: typer.Typer) -> None:
    command(root, "status")(status)


def healthy(report: system_pb2.SystemStatus) -> bool:
    return (
        report.database.initialized
        and report.nats.connected
        and report.docker.available
        and all(service.status == "SERVING" for service in report.services)
    )


def status(ctx: typer.Context) -> None:
    """The database, NATS, Docker and every service; exit code 1 when any of them is unwell
    (signed in as a platform admin, with the details).

    Example:

        dockyard status
    """
    current = state(ctx)
    client = current.client
    stub = client.stub(system_pb2_grpc.SystemServiceStub)
    request = system_pb2.GetSystemStatusRequest()
    # Admins get the detail; anyone else (or nobody signed in) the states.
    try:
        report = client.call(stub.GetSystemStatus, request)
    except CliError:
        report = client.public(stub.GetSystemStatus, request)
    output = current.output
    if output.json:
        output.print_json(as_dict(report))
    else:

        def mark(ok: bool) -> str:
            return "ok" if ok else "PROBLEM"

        database = report.database
        rows = [
            {"component": "database", "state": mark(database.initialized),
             "detail": database.error or database.server_version},
            {"component": "nats", "state": mark(report.nats.connected), "detail": report.nats.error or report.nats.stream},
            {"component": "docker", "state": mark(report.docker.available),
             "detail": report.docker.error or ("swarm active" if report.docker.swarm_active else "swarm inactive")},
        ] + [
            {"component": f"service {service.name}", "state": mark(service.status == "SERVING"), "detail": service.status}
            for service in report.services
        ]  # fmt: skip
        output.rows(rows, ["component", "state", "detail"])
    if not healthy(report):
        raise typer.Exit(1)
