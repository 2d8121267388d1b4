"""The authorization matrix of the projects API (tests/projects/matrix.py, run by the harness of
tests/support/authorization.py): every RPC in the table, for every kind of caller, straight to the
projects service and through the gateway over gRPC, and a representative subset over REST through
the gateway."""

import pytest

from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from tests.projects.matrix import CALLER_LEVELS, CASES, HTTP_STATUS, Cast, Level, expected
from tests.support import authorization
from tests.support.calls import rest
from tests.support.resources import unique

CALLERS = list(CALLER_LEVELS)


@pytest.fixture(scope="module")
def cast(people, identity_channel, projects_channel) -> Cast:
    return Cast(people, identity_channel, projects_channel)


channel = authorization.routed_channel("projects_channel")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_rpc_for_every_caller(cast, channel, case):
    assert authorization.outcomes(case, cast, channel) == dict(case.expected)


def test_lists_show_the_project_to_exactly_those_who_may_see_it(cast, channel):
    stub = projects_pb2_grpc.ProjectServiceStub(channel)
    seen = {}
    for caller, level in CALLER_LEVELS.items():
        if level is None:
            continue
        listed = stub.ListProjects(
            projects_pb2.ListProjectsRequest(page_size=100, search=cast.project.name),
            metadata=cast.metadata(caller),
            timeout=30,
        )
        seen[caller] = cast.project.id in [project.id for project in listed.projects]
    assert seen == {
        caller: level >= Level.READ for caller, level in CALLER_LEVELS.items() if level is not None
    }


def rest_cases(cast: Cast):
    """(name, needed, method, path, body) over HTTP on the target project."""
    target = f"/v1/projects/{cast.project.id}"
    yield "GetProject", Level.READ, "GET", target, None
    yield "GetProjectStats", Level.READ, "GET", f"{target}/stats", None
    yield "CreateProject", Level.CREATE, "POST", "/v1/projects", {"name": unique("rest")}
    yield "UpdateProject", Level.MANAGE, "PATCH", target, {"description": "over REST"}
    contents = cast.contents
    yield "GetApplication", Level.READ, "GET", f"/v1/applications/{contents.app.id}", None
    yield (
        "ScaleApplication",
        Level.WRITE,
        "POST",
        f"/v1/applications/{contents.app.id}:scale",
        {"replicas": 1},
    )
    reveal = f"/v1/applications/{contents.app.id}/env-vars/{contents.env_key}:reveal"
    yield "RevealEnvVar", Level.MANAGE, "POST", reveal, {}
    yield "ListDatabases", Level.READ, "GET", f"{target}/databases", None
    yield (
        "RevealDatabaseCredentials",
        Level.MANAGE,
        "POST",
        f"/v1/databases/{contents.database.id}:reveal",
        {},
    )
    yield "ListExpiringCertificates", Level.LIST, "GET", "/v1/certificates:expiring?within_days=3650", None


def bearer_token(metadata: tuple) -> str:
    return dict(metadata).get("authorization", "").removeprefix("Bearer ")


def test_rest_through_the_gateway(stack, cast):
    got, want = {}, {}
    for name, needed, method, path, body in rest_cases(cast):
        for caller in CALLERS:
            token = bearer_token(cast.metadata(caller))
            got[name, caller] = rest(stack.port, method, path, body, token=token)[0]
            want[name, caller] = HTTP_STATUS[expected(caller, needed)]
    for caller in CALLERS:
        project = cast.fresh_project()
        token = bearer_token(cast.metadata(caller, project.id))
        got["DeleteProject", caller] = rest(stack.port, "DELETE", f"/v1/projects/{project.id}", token=token)[
            0
        ]
        want["DeleteProject", caller] = HTTP_STATUS[expected(caller, Level.OWN)]
    assert got == want


def test_the_matrix_covers_every_rpc_of_the_projects_api():
    authorization.assert_covers(CASES, projects_pb2)
