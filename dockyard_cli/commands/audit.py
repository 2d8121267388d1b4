"""`dockyard audit`: search the audit trail."""

import typer

from dockyard.audit.v1 import audit_pb2, audit_pb2_grpc
from dockyard_cli.context import command, state
from dockyard_cli.durations import parse_point
from dockyard_cli.resolve import PAGE_SIZE, pages, project_id, user_id

COLUMNS = ["created_at", "username", "action", "resource_type", "resource_id", "ip_address"]


def register(root: typer.Typer) -> None:
    command(root, "audit")(audit)


def _point(text: str, option: str):
    try:
        return parse_point(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def audit(
    ctx: typer.Context,
    query: str = typer.Option("", "--query", "-q", help='Full text: words, "phrases", -excluded, or.'),
    since: str = typer.Option("", help="From this long ago (30m, 12h, 1d, 2w) or this time (RFC 3339)."),
    until: str = typer.Option("", help="Before this long ago or this time."),
    action: str = typer.Option("", help='An event type, or a prefix ending in "." (projects.application.).'),
    resource_type: str = typer.Option(
        "", help="user, team, project, application, database, deployment or domain."
    ),
    resource_id: str = typer.Option("", help="The resource's id."),
    user: str = typer.Option("", help="Only what this user did (username, email or id)."),
    project: str = typer.Option("", "--project", "-p", help="Only entries of this project (name or id)."),
    ip: str = typer.Option("", help="A client address or network (192.0.2.0/24)."),
    limit: int = typer.Option(50, min=1, max=10000, help="At most this many entries, newest first."),
) -> None:
    """Who changed what, when: the audit trail's entries matching every filter, newest first.

    Examples:

        dockyard audit --query deployment --since 1d

        dockyard audit --resource-type application --resource-id 0b6f... --since 2w

        dockyard -o json audit --action projects. --since 30m
    """
    request = audit_pb2.ListAuditLogsRequest(
        page_size=min(limit, PAGE_SIZE), query=query, action=action, resource_type=resource_type,
        resource_id=resource_id, ip=ip,
    )  # fmt: skip
    if since:
        request.since.FromDatetime(_point(since, "--since"))
    if until:
        request.until.FromDatetime(_point(until, "--until"))
    client = state(ctx).client
    if user:
        request.user_id = user_id(client, user)
    if project:
        request.project_id = project_id(client, project)
    stub = client.stub(audit_pb2_grpc.AuditLogServiceStub)
    entries = []
    for entry in pages(client, stub.ListAuditLogs, request, "audit_logs"):
        entries.append(entry)
        if len(entries) >= limit:
            break
    state(ctx).output.table(entries, COLUMNS, key="audit_logs")
