"""Names to ids: commands take a resource's id or its name (a project's among those the caller
sees, an application's within its project, a team's, a user's username or email)."""

import uuid

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.client import Client, CliError

PAGE_SIZE = 100


def is_id(reference: str) -> bool:
    try:
        uuid.UUID(reference)
    except ValueError:
        return False
    return True


def pages(client: Client, method, request, field: str):
    """Every item of a paged list."""
    while True:
        answer = client.call(method, request)
        yield from getattr(answer, field)
        if not answer.next_page_token:
            return
        request.page_token = answer.next_page_token


def one(kind: str, name: str, matches: list, hint: str = "") -> str:
    if not matches:
        raise CliError(f"no {kind} named {name!r}{hint}")
    if len(matches) > 1:
        ids = ", ".join(match.id for match in matches)
        raise CliError(f"several {kind}s are named {name!r} ({ids}): give the id")
    return matches[0].id


def project_id(client: Client, reference: str) -> str:
    if is_id(reference):
        return reference
    stub = client.stub(projects_pb2_grpc.ProjectServiceStub)
    request = projects_pb2.ListProjectsRequest(page_size=PAGE_SIZE, search=reference)
    matches = [p for p in pages(client, stub.ListProjects, request, "projects") if p.name == reference]
    return one("project", reference, matches)


def application_id(client: Client, reference: str, project: str | None) -> str:
    if is_id(reference):
        return reference
    if not project:
        raise CliError(f"application {reference!r}: give its id, or its name with --project")
    stub = client.stub(projects_pb2_grpc.ApplicationServiceStub)
    parent = project_id(client, project)
    matches = []
    for archived in (False, True):
        request = projects_pb2.ListApplicationsRequest(
            project_id=parent, page_size=PAGE_SIZE, show_archived=archived
        )
        matches += [
            a for a in pages(client, stub.ListApplications, request, "applications") if a.name == reference
        ]
    return one("application", reference, matches, f" in project {project!r}")


def database_id(client: Client, reference: str, project: str | None) -> str:
    if is_id(reference):
        return reference
    if not project:
        raise CliError(f"database {reference!r}: give its id, or its name with --project")
    stub = client.stub(projects_pb2_grpc.DatabaseServiceStub)
    request = projects_pb2.ListDatabasesRequest(project_id=project_id(client, project), page_size=PAGE_SIZE)
    matches = [d for d in pages(client, stub.ListDatabases, request, "databases") if d.name == reference]
    return one("database", reference, matches, f" in project {project!r}")


def domain_id(client: Client, reference: str, project: str | None) -> str:
    if is_id(reference):
        return reference
    if not project:
        raise CliError(f"domain {reference!r}: give its id, or its host name with --project")
    stub = client.stub(projects_pb2_grpc.DomainServiceStub)
    request = projects_pb2.ListDomainsRequest(project_id=project_id(client, project), page_size=PAGE_SIZE)
    host = reference.lower()
    matches = [d for d in pages(client, stub.ListDomains, request, "domains") if d.domain == host]
    return one("domain", reference, matches, f" in project {project!r}")


def team_id(client: Client, reference: str) -> str:
    if is_id(reference):
        return reference
    stub = client.stub(identity_pb2_grpc.TeamServiceStub)
    request = identity_pb2.ListTeamsRequest(page_size=PAGE_SIZE)
    matches = [t for t in pages(client, stub.ListTeams, request, "teams") if t.name == reference]
    return one("team", reference, matches)


def user_id(client: Client, reference: str) -> str:
    if is_id(reference):
        return reference
    stub = client.stub(identity_pb2_grpc.UserServiceStub)
    request = identity_pb2.ListUsersRequest(page_size=PAGE_SIZE, prefix=reference)
    matches = [
        u for u in pages(client, stub.ListUsers, request, "users") if reference in (u.username, u.email)
    ]
    return one("user", reference, matches)
