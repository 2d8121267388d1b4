"""Who may call the deployer, and what follows in Swarm and in the deployer's tables from changes
made elsewhere.

The matrix: every DeploymentService RPC (checked against the contract, so a new RPC without a row
fails) for every kind of caller, straight to the deployer and through the gateway over gRPC, and a
sample over REST: writes need WRITE (team member and above), reads READ, and a caller who may not
see the project gets NOT_FOUND. The matrix's application never runs anything: a fake running
deployment holds it (one deployment runs at a time per application), so what callers queue stays
pending until they or the test cancel it.

Then: a team member removed from the team loses access within 2 s; a running application is
scaled, stopped and started again without a new deployment, its service removed once archived
and its deployments and log lines once purged; a deleted user's deployments keep no trace of them.
"""

import time
import uuid

import grpc
import pytest

from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard_kit.project_access import Level
from services.deployer.docker.swarm import LABEL_APPLICATION, network_name
from tests.support import authorization
from tests.support.accounts import Account, People, api_token_access, create_account
from tests.support.authorization import Case
from tests.support.calls import DENIED, NOT_FOUND, OK, TIMEOUT, UNAUTHENTICATED, code_of, payload, rest
from tests.support.deployments import deploy, remove_project_services, wait_final
from tests.support.resources import call, create, new_app, outbox, sql, unique
from tests.support.waiting import eventually

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

# Each caller's level on the matrix's project (None: not signed in).
CALLER_LEVELS: dict[str, Level | None] = {
    "owner": Level.OWN,
    "team_member": Level.WRITE,
    "team_viewer": Level.READ,
    "admin": Level.OWN,
    "viewer": Level.NONE,  # a platform viewer in no team
    "read_only": Level.READ,  # the admin's read-only token
    "limited_here": Level.OWN,  # the admin's read-write token limited to the project
    "limited_elsewhere": Level.NONE,  # ... limited to another project
    "unrelated": Level.NONE,
    "anonymous": None,
}

HTTP_STATUS = {OK: 200, DENIED: 403, NOT_FOUND: 404, UNAUTHENTICATED: 401, FAILED_PRECONDITION: 400}


def expected(caller: str, needed: Level, allowed: grpc.StatusCode = OK) -> grpc.StatusCode:
    """`allowed`: the code once access is granted (a rollback with nothing to roll back to fails
    its precondition, which is checked only after access)."""
    level = CALLER_LEVELS[caller]
    if level is None:
        return UNAUTHENTICATED
    if level == Level.NONE:
        return NOT_FOUND
    return allowed if level >= needed else DENIED


@pytest.fixture(scope="module")
def stack_env():
    return {"DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1", "DOCKYARD_DEPLOY_LEASE_SECONDS": "3"}


@pytest.fixture(scope="module")
def deployer_channel(stack):
    """gRPC straight to the deployer, bypassing the gateway."""
    with grpc.insecure_channel(stack.addresses["deployer"]) as channel:
        yield channel


class DeploymentServiceStub(deployer_pb2_grpc.DeploymentServiceStub):
    """The generated stub with FollowDeploymentLogs read to its end: a stream's status (OK or the
    error) arrives only as it is read."""

    def __init__(self, channel) -> None:
        super().__init__(channel)
        stream = self.FollowDeploymentLogs
        self.FollowDeploymentLogs = lambda request, **options: list(stream(request, **options))


class World:
    """The callers, the matrix's project in the owner's team `crew`, an application there held by
    a fake running deployment (`blocker`), and an ended deployment of it for the reads."""

    def __init__(self, stack, people: People, identity_channel, deployer_channel) -> None:
        self.stack = stack
        self.people = people
        self.deployer = DeploymentServiceStub(deployer_channel)
        self.project = create(stack, people.owner, team_id=people.crew.id)
        team_viewer = create_account(identity_channel, people.super_admin, unique("tview")[:20], "developer")
        people.add_member(people.crew, team_viewer.user, role="viewer")
        self.accounts: dict[str, Account] = {
            "owner": people.owner,
            "team_member": people.member,
            "team_viewer": team_viewer,
            "admin": people.admin,
            "viewer": people.viewer,
            "read_only": people.read_only_admin,
            "limited_here": api_token_access(
                identity_channel,
                people.admin,
                unique("here"),
                scope="read_write",
                project_ids=[self.project["id"]],
            ),
            "limited_elsewhere": people.project_limited_admin,
            "unrelated": people.unrelated,
            "anonymous": people.anonymous,
        }
        # An image nobody has: should anything of this application ever run, it fails at once.
        self.app = new_app(
            stack, people.owner, self.project["id"], docker_config={"image": "dockyard-test/absent:1"}
        )
        self.blocker = self._hold(self.app["id"])
        self.ended = self.queued()
        self.cancel(self.ended.id)
        # Every membership has reached the deployer's read model.
        request = deployer_pb2.GetDeploymentRequest(deployment_id=self.ended.id)
        for caller in ("team_member", "team_viewer"):
            eventually(
                lambda caller=caller: (
                    code_of(self.deployer.GetDeployment, request, self.metadata(caller)) == OK
                )
            )

    def metadata(self, caller: str) -> tuple:
        return self.accounts[caller].metadata

    def _hold(self, application_id: str) -> uuid.UUID:
        """A deployment that looks running under a lease nobody renews nor lets expire: nothing
        else of the application is claimed while it lasts."""
        owner = self.people.owner
        eventually(
            lambda: (
                code_of(
                    self.deployer.ListDeployments,
                    deployer_pb2.ListDeploymentsRequest(application_id=application_id),
                    owner.metadata,
                )
                == OK
            )
        )
        return sql(
            self.stack,
            "deployer",
            "INSERT INTO deployments (application_id, project_id, status, lease_owner, lease_expires_at)"
            " VALUES ($1, $2, 'deploying', 'matrix-test', now() + interval '1 day') RETURNING id",
            uuid.UUID(application_id),
            uuid.UUID(self.project["id"]),
        )[0]["id"]

    def release(self) -> None:
        sql(
            self.stack,
            "deployer",
            "UPDATE deployments SET status = 'failed', completed_at = now(), lease_owner = NULL,"
            " lease_expires_at = NULL WHERE id = $1",
            self.blocker,
        )

    def queued(self, caller: str = "owner") -> deployer_pb2.Deployment:
        """A new pending deployment of the matrix's application."""
        request = deployer_pb2.CreateDeploymentRequest(application_id=self.app["id"], request_id=unique("m"))
        return self.deployer.CreateDeployment(request, metadata=self.metadata(caller), timeout=TIMEOUT)

    def cancel(self, deployment_id: str) -> None:
        request = deployer_pb2.CancelDeploymentRequest(deployment_id=deployment_id)
        self.deployer.CancelDeployment(request, metadata=self.metadata("owner"), timeout=TIMEOUT)

    def cancel_pending(self) -> None:
        """Whatever callers queued on the matrix's application."""
        rows = sql(
            self.stack,
            "deployer",
            "SELECT id FROM deployments WHERE application_id = $1 AND status = 'pending'",
            uuid.UUID(self.app["id"]),
        )
        for row in rows:
            self.cancel(str(row["id"]))

    def deployment_row(self, **where):
        ((column, value),) = where.items()
        rows = sql(
            self.stack, "deployer", f"SELECT status, metadata FROM deployments WHERE {column} = $1", value
        )
        return rows[0] if rows else None


@pytest.fixture(scope="module")
def world(stack, people, identity_channel, deployer_channel, docker_client):
    world = World(stack, people, identity_channel, deployer_channel)
    yield world
    world.cancel_pending()
    world.release()
    remove_project_services(docker_client, world.project["id"])


# -- the matrix ---------------------------------------------------------------------------------


def row(method: str, needed: Level, build, *, allowed=OK, effect=None) -> Case:
    """`build(world)`: the request (made afresh for each caller)."""
    codes = {caller: expected(caller, needed, allowed) for caller in CALLER_LEVELS}
    return Case(
        DeploymentServiceStub, method, codes, lambda w, caller: (build(w), w.metadata(caller)), effect=effect
    )


def was_queued(world: World, caller: str, request) -> bool:
    """Whether the request's deployment exists (cancelled right away: nothing of it runs)."""
    found = world.deployment_row(request_id=request.request_id)
    if found is not None and found["status"] == "pending":
        world.cancel_pending()
    return found is not None


def was_cancelled(world: World, caller: str, request) -> bool:
    found = world.deployment_row(id=uuid.UUID(request.deployment_id))
    cancelled = found["status"] == "failed" and '"cancelled"' in found["metadata"]
    if not cancelled:
        world.cancel(request.deployment_id)
    return cancelled


D = deployer_pb2

CASES = [
    row(
        "CreateDeployment",
        Level.WRITE,
        lambda w: D.CreateDeploymentRequest(application_id=w.app["id"], request_id=unique("matrix")),
        effect=was_queued,
    ),
    row("GetDeployment", Level.READ, lambda w: D.GetDeploymentRequest(deployment_id=w.ended.id)),
    row("ListDeployments", Level.READ, lambda w: D.ListDeploymentsRequest(application_id=w.app["id"])),
    row(
        "CancelDeployment",
        Level.WRITE,
        lambda w: D.CancelDeploymentRequest(deployment_id=w.queued().id),
        effect=was_cancelled,
    ),
    # The application has no successful deployment: access granted, the rollback's precondition fails.
    row(
        "RollbackApplication",
        Level.WRITE,
        lambda w: D.RollbackApplicationRequest(application_id=w.app["id"]),
        allowed=FAILED_PRECONDITION,
    ),
    row("ListDeploymentLogs", Level.READ, lambda w: D.ListDeploymentLogsRequest(deployment_id=w.ended.id)),
    row(
        "FollowDeploymentLogs", Level.READ, lambda w: D.FollowDeploymentLogsRequest(deployment_id=w.ended.id)
    ),
]

channel = authorization.routed_channel("deployer_channel")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_rpc_for_every_caller(world, channel, case):
    assert authorization.outcomes(case, world, channel) == dict(case.expected)


def test_the_matrix_covers_every_rpc_of_the_deployer_api():
    authorization.assert_covers(CASES, deployer_pb2)


def test_rest_through_the_gateway(stack, world):
    ended, app = world.ended.id, world.app["id"]
    got, want = {}, {}
    for caller in CALLER_LEVELS:
        token = world.accounts[caller].token
        samples = [
            ("GetDeployment", Level.READ, OK, "GET", f"/v1/deployments/{ended}", None),
            ("ListDeployments", Level.READ, OK, "GET", f"/v1/applications/{app}/deployments", None),
            ("ListDeploymentLogs", Level.READ, OK, "GET", f"/v1/deployments/{ended}/logs", None),
            ("CreateDeployment", Level.WRITE, OK, "POST", f"/v1/applications/{app}/deployments", {}),
            ("CancelDeployment", Level.WRITE, OK, "POST", f"/v1/deployments/{world.queued().id}:cancel", {}),
            (
                "RollbackApplication",
                Level.WRITE,
                FAILED_PRECONDITION,
                "POST",
                f"/v1/applications/{app}:rollback",
                {},
            ),
        ]
        for name, needed, allowed, method, path, body in samples:
            got[name, caller] = rest(stack.port, method, path, body, token=token)[0]
            want[name, caller] = HTTP_STATUS[expected(caller, needed, allowed)]
        world.cancel_pending()
    assert got == want


# -- revocation ---------------------------------------------------------------------------------


def test_a_member_removed_from_the_team_loses_access_within_two_seconds(world, people, identity_channel):
    leaver = create_account(identity_channel, people.super_admin, unique("leaver")[:20], "developer")
    people.add_member(people.crew, leaver.user)
    request = deployer_pb2.GetDeploymentRequest(deployment_id=world.ended.id)
    eventually(lambda: code_of(world.deployer.GetDeployment, request, leaver.metadata) == OK)
    identity_pb2_grpc.TeamServiceStub(identity_channel).RemoveTeamMember(
        identity_pb2.RemoveTeamMemberRequest(team_id=people.crew.id, user_id=leaver.id),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    removed_at = time.monotonic()
    while code_of(world.deployer.GetDeployment, request, leaver.metadata) != NOT_FOUND:
        assert time.monotonic() - removed_at < 2, "still allowed 2 s after leaving the team"
        time.sleep(0.05)
    assert (
        code_of(
            world.deployer.ListDeployments,
            deployer_pb2.ListDeploymentsRequest(application_id=world.app["id"]),
            leaver.metadata,
        )
        == NOT_FOUND
    )


# -- cascades and the runtime -------------------------------------------------------------------


def application_services(docker_client, application_id: str) -> list:
    """The Swarm services of the application (by the label the platform puts on them)."""
    return docker_client.services.list(filters={"label": f"{LABEL_APPLICATION}={application_id}"})


def running_tasks(docker_client, application_id: str) -> int:
    """How many of the application's tasks run (every service of it: there should be one)."""
    return sum(
        task["Status"]["State"] == "running"
        for service in application_services(docker_client, application_id)
        for task in service.tasks(filters={"desired-state": "running"})
    )


def scale(stack, account, application_id: str, replicas: int) -> None:
    status, body = call(
        stack, account, "POST", f"/v1/applications/{application_id}:scale", {"replicas": replicas}
    )
    assert status == 200, body


def test_scaling_archiving_and_purging_follow_in_swarm_and_in_the_deployer(
    stack, people, world, docker_client, busybox_image
):
    owner = people.owner
    # No published port: two replicas on one node would contend for it.
    config = {"image": busybox_image, "command": "exec httpd -f -p 8080 -h /"}
    app = new_app(stack, owner, world.project["id"], docker_config=config)
    first = deploy(stack, owner, app["id"])
    ended = wait_final(stack, owner, first["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    (service,) = application_services(docker_client, app["id"])
    assert service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 1

    def status_of_app():
        return call(stack, owner, "GET", f"/v1/applications/{app['id']}")[1]["status"]

    eventually(lambda: status_of_app() == "running", timeout=15)
    # The application is `scaling` until the deployer has applied the scale, then running (or
    # stopped at 0), as projects hears from deployer.application.scaled.
    for replicas, settled in ((2, "running"), (0, "stopped"), (1, "running")):
        scale(stack, owner, app["id"], replicas)
        eventually(lambda replicas=replicas: running_tasks(docker_client, app["id"]) == replicas, timeout=60)
        eventually(lambda settled=settled: status_of_app() == settled, timeout=15)
    statuses = [
        payload(event, projects_events.ApplicationChanged).application.status
        for event in outbox(stack, app["id"])
        if event.type == "projects.application.status_changed"
    ]
    assert statuses == [
        "deploying",
        "running",
        "scaling",
        "running",
        "scaling",
        "stopped",
        "scaling",
        "running",
    ]
    scaled = [
        event for event in outbox(stack, app["id"], schema="deployer") if event.type.endswith(".scaled")
    ]
    assert [payload(event, deployer_events.ApplicationScaled).replicas for event in scaled] == [2, 0, 1]
    status, listed = call(stack, owner, "GET", f"/v1/applications/{app['id']}/deployments")
    assert status == 200 and [d["id"] for d in listed["deployments"]] == [first["id"]]

    status, body = call(stack, owner, "DELETE", f"/v1/applications/{app['id']}")
    assert status == 200, body
    eventually(lambda: application_services(docker_client, app["id"]) == [], timeout=30)

    deployment_id = uuid.UUID(first["id"])
    assert (
        sql(
            stack, "deployer", "SELECT count(*) FROM deployment_logs WHERE deployment_id = $1", deployment_id
        )[0][0]
        > 0
    )
    status, body = call(stack, owner, "POST", f"/v1/applications/{app['id']}:purge", {})
    assert status == 200, body

    def purged():
        deployments = sql(
            stack,
            "deployer",
            "SELECT count(*) FROM deployments WHERE application_id = $1",
            uuid.UUID(app["id"]),
        )
        logs = sql(
            stack, "deployer", "SELECT count(*) FROM deployment_logs WHERE deployment_id = $1", deployment_id
        )
        return deployments[0][0] == 0 and logs[0][0] == 0

    eventually(purged, timeout=15)
    status, _ = call(stack, owner, "GET", f"/v1/deployments/{first['id']}")
    assert status == 404


def test_a_deleted_users_deployments_keep_no_trace_of_them(stack, people, world, identity_channel):
    doomed = create_account(identity_channel, people.super_admin, unique("doomed")[:20], "developer")
    people.add_member(people.crew, doomed.user)
    world.accounts["doomed"] = doomed
    cancelled = eventually(lambda: _queued_or_none(world, "doomed"))
    request = deployer_pb2.CancelDeploymentRequest(deployment_id=cancelled.id)
    world.deployer.CancelDeployment(request, metadata=doomed.metadata, timeout=TIMEOUT)
    pending = world.queued("doomed")
    identity_pb2_grpc.UserServiceStub(identity_channel).DeleteUser(
        identity_pb2.DeleteUserRequest(user_id=doomed.id),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    ids = [uuid.UUID(cancelled.id), uuid.UUID(pending.id)]

    def forgotten():
        rows = sql(
            stack,
            "deployer",
            "SELECT triggered_by, metadata->>'cancelled_by' AS cancelled_by FROM deployments WHERE id = ANY($1)",
            ids,
        )
        return len(rows) == 2 and all(r["triggered_by"] is None and r["cancelled_by"] is None for r in rows)

    eventually(forgotten, timeout=15)
    status, body = call(stack, people.owner, "GET", f"/v1/deployments/{pending.id}")
    assert status == 200 and body.get("triggered_by", "") == "", body
    world.cancel(pending.id)


def _queued_or_none(world: World, caller: str):
    """A deployment queued by `caller`, None while their membership has not reached the deployer."""
    try:
        return world.queued(caller)
    except grpc.RpcError as error:
        if error.code() != NOT_FOUND:
            raise
        return None


def test_a_scale_during_a_rollout_is_applied_once_it_ends(stack, people, world, docker_client, busybox_image):
    """The rollout runs the replicas its spec was read with and the reconciler leaves a service
    alone while a deployment of it runs; the scale is not lost: the deployment's end changes the
    application's status, and that event asks the reconciler again."""
    owner = people.owner
    config = {"image": busybox_image, "command": "exec httpd -f -p 8080 -h /"}
    app = new_app(stack, owner, world.project["id"], docker_config=config)
    first = deploy(stack, owner, app["id"])

    def deploying():
        status, body = call(stack, owner, "GET", f"/v1/deployments/{first['id']}")
        assert status == 200 and body["status"] not in ("success", "failed", "rolled_back"), body
        return body["status"] == "deploying"

    eventually(deploying, timeout=60, interval=0.05)
    scale(stack, owner, app["id"], 2)
    ended = wait_final(stack, owner, first["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    eventually(lambda: running_tasks(docker_client, app["id"]) == 2, timeout=15)
    for service in application_services(docker_client, app["id"]):
        service.remove()


def test_deleting_a_project_deletes_its_applications_deployments_service_and_network(
    stack, people, world, docker_client, busybox_image
):
    owner = people.owner
    project = create(stack, owner)
    app = new_app(
        stack,
        owner,
        project["id"],
        docker_config={"image": busybox_image, "command": "exec httpd -f -p 8080"},
    )
    doomed = deploy(stack, owner, app["id"])
    assert wait_final(stack, owner, doomed["id"])["status"] == "success"
    network = network_name(project["id"])
    assert docker_client.networks.list(names=[network]) and application_services(docker_client, app["id"])
    status, body = call(stack, owner, "DELETE", f"/v1/projects/{project['id']}")
    assert status == 200, body
    # Nothing of the project stays on the engine.
    eventually(lambda: application_services(docker_client, app["id"]) == [], timeout=30)
    eventually(lambda: docker_client.networks.list(names=[network]) == [], timeout=30)

    def forgotten():
        rows = sql(
            stack,
            "deployer",
            "SELECT count(*) FROM deployments WHERE project_id = $1",
            uuid.UUID(project["id"]),
        )
        return rows[0][0] == 0

    eventually(forgotten, timeout=15)
    status, _ = call(stack, owner, "GET", f"/v1/deployments/{doomed['id']}")
    assert status == 404
