"""Who sees which entries of the trail, over every AuditLogService RPC (the table is checked against
the contract, so a new RPC without a row fails), straight to the service and through the gateway:
platform admins everything; a team owner or admin their team's entries and its projects'; a project
owner their project's; everyone their own actions; a platform viewer only their own; a
project-limited token only its projects'. An entry the caller may not see is NOT_FOUND. A team admin
removed from the team loses its entries within 2 s. A deleted user's entries keep their username
and lose their user id; and no secret value ever reaches the trail."""

import datetime
import json
import time
import uuid

import grpc
import pytest

from dockyard.audit.v1 import audit_pb2, audit_pb2_grpc
from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.support import authorization
from tests.support.accounts import People, api_token_access, create_account
from tests.support.authorization import Case
from tests.support.calls import NOT_FOUND, OK, TIMEOUT, UNAUTHENTICATED, code_of
from tests.support.resources import call, create, new_app, sql, unique
from tests.support.waiting import eventually

ENTRIES = ("team", "team_project", "own_project", "member_action", "viewer_action", "elsewhere", "platform")
EVERYTHING = set(ENTRIES)
VISIBLE = {
    "super_admin": EVERYTHING,
    "admin": EVERYTHING,
    "read_only": EVERYTHING,  # the admin's read-only token: reading is all the trail offers
    "team_owner": {"team", "team_project"},
    "team_admin": {"team", "team_project"},
    "team_member": {"member_action"},
    "project_owner": {"own_project"},
    "viewer": {"viewer_action"},
    "limited_here": {"team_project"},  # the admin's token limited to the team's project
    "limited_elsewhere": set(),
    "anonymous": None,
}


class World:
    """The callers, and one entry of each kind, all carrying this world's word (their full-text
    tag) so that a list or export sees only them."""

    def __init__(self, stack, people: People, identity_channel, audit_channel) -> None:
        self.stack = stack
        self.people = people
        self.audit = AuditStub(audit_channel)
        self.word = unique("tag").replace("-", "")
        team_admin = create_account(identity_channel, people.super_admin, unique("tadm")[:20], "developer")
        people.add_member(people.crew, team_admin.user, role="admin")
        self.team_project = create(stack, people.owner, team_id=people.crew.id)
        self.own_project = create(stack, people.developer)
        elsewhere = create(stack, people.unrelated)
        self.accounts = {
            "super_admin": people.super_admin,
            "admin": people.admin,
            "read_only": people.read_only_admin,
            "team_owner": people.owner,
            "team_admin": team_admin,
            "team_member": people.member,
            "project_owner": people.developer,
            "viewer": people.viewer,
            "limited_here": api_token_access(
                identity_channel,
                people.admin,
                unique("here"),
                scope="read_only",
                project_ids=[self.team_project["id"]],
            ),
            "limited_elsewhere": people.project_limited_admin,
            "anonymous": people.anonymous,
        }
        root = people.super_admin.id
        self.ids = {
            "team": self._entry(root, team_id=people.crew.id, resource_type="team"),
            "team_project": self._entry(root, project_id=self.team_project["id"]),
            "own_project": self._entry(root, project_id=self.own_project["id"]),
            "member_action": self._entry(people.member.id, project_id=elsewhere["id"]),
            "viewer_action": self._entry(people.viewer.id),
            "elsewhere": self._entry(people.unrelated.id, project_id=elsewhere["id"]),
            "platform": self._entry(None),
        }
        # The projects and memberships have reached audit's read models.
        for caller in ("team_owner", "team_admin", "project_owner"):
            eventually(lambda caller=caller: self.visible(caller) == VISIBLE[caller], timeout=15)

    def _entry(self, user_id, *, project_id=None, team_id=None, resource_type="project") -> int:
        [row] = sql(
            self.stack,
            "audit",
            "INSERT INTO audit_logs (user_id, action, resource_type, resource_id, project_id, team_id,"
            " details, created_at, event_id) VALUES ($1::uuid, 'projects.project.updated', $2, $3::uuid,"
            " $3::uuid, $4::uuid, $5::jsonb, $6, gen_random_uuid()) RETURNING id",
            user_id,
            resource_type,
            project_id or team_id,
            team_id,
            json.dumps({"tag": self.word}),
            datetime.datetime.now(datetime.UTC),
        )
        return row["id"]

    def metadata(self, caller: str) -> tuple:
        token = self.accounts[caller].token
        return (("authorization", f"Bearer {token}"),) if token else ()

    def visible(self, caller: str) -> set[str]:
        answer = self.audit.ListAuditLogs(
            audit_pb2.ListAuditLogsRequest(query=self.word, page_size=100), metadata=self.metadata(caller)
        )
        names = {entry_id: name for name, entry_id in self.ids.items()}
        return {names[entry.id] for entry in answer.audit_logs}


class AuditStub(audit_pb2_grpc.AuditLogServiceStub):
    """The generated stub with the export read to its end (its status arrives as it is read)."""

    def __init__(self, channel) -> None:
        super().__init__(channel)
        stream = self.ExportAuditLogs
        self.ExportAuditLogs = lambda request, **options: b"".join(
            chunk.data for chunk in stream(request, **options)
        )


@pytest.fixture(scope="module")
def audit_channel(stack):
    with grpc.insecure_channel(stack.addresses["audit"]) as channel:
        yield channel


@pytest.fixture(scope="module")
def world(stack, people, identity_channel, audit_channel) -> World:
    return World(stack, people, identity_channel, audit_channel)


channel = authorization.routed_channel("audit_channel")


def _codes(visible_names: set[str] | None, entry: str) -> grpc.StatusCode:
    if visible_names is None:
        return UNAUTHENTICATED
    return OK if entry in visible_names else NOT_FOUND


CASES = [
    *(
        Case(
            audit_pb2_grpc.AuditLogServiceStub,
            "GetAuditLog",
            {caller: _codes(names, entry) for caller, names in VISIBLE.items()},
            lambda w, caller, entry=entry: (
                audit_pb2.GetAuditLogRequest(id=w.ids[entry]),
                w.metadata(caller),
            ),
            variant=entry,
        )
        for entry in ENTRIES
    ),
    Case(
        audit_pb2_grpc.AuditLogServiceStub,
        "ListAuditLogs",
        {caller: UNAUTHENTICATED if names is None else OK for caller, names in VISIBLE.items()},
        lambda w, caller: (audit_pb2.ListAuditLogsRequest(query=w.word), w.metadata(caller)),
    ),
    Case(
        audit_pb2_grpc.AuditLogServiceStub,
        "ExportAuditLogs",
        {caller: UNAUTHENTICATED if names is None else OK for caller, names in VISIBLE.items()},
        lambda w, caller: (audit_pb2.ExportAuditLogsRequest(query=w.word), w.metadata(caller)),
    ),
]


def test_the_table_covers_every_audit_rpc():
    authorization.assert_covers(CASES, audit_pb2)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_authorization_matrix(world, channel, case):
    stub = AuditStub(channel)
    method = getattr(stub, case.method)
    outcomes = {caller: code_of(method, *case.call(world, caller)) for caller in case.expected}
    assert outcomes == dict(case.expected)


@pytest.mark.parametrize("caller", [caller for caller, names in VISIBLE.items() if names is not None])
def test_lists_and_exports_show_exactly_what_each_caller_may_see(world, caller):
    assert world.visible(caller) == VISIBLE[caller]
    exported = world.audit.ExportAuditLogs(
        audit_pb2.ExportAuditLogsRequest(query=world.word), metadata=world.metadata(caller)
    )
    names = {entry_id: name for name, entry_id in world.ids.items()}
    assert {names[int(json.loads(line)["id"])] for line in exported.splitlines()} == (VISIBLE[caller])


def test_a_team_admin_removed_from_the_team_loses_its_entries_within_two_seconds(
    stack, people, identity_channel, world
):
    leaver = create_account(identity_channel, people.super_admin, unique("leave")[:20], "developer")
    people.add_member(people.crew, leaver.user, role="admin")
    world.accounts["leaver"] = leaver
    eventually(lambda: world.visible("leaver") == {"team", "team_project"}, timeout=15)
    teams = identity_pb2_grpc.TeamServiceStub(identity_channel)
    teams.RemoveTeamMember(
        identity_pb2.RemoveTeamMemberRequest(team_id=people.crew.id, user_id=leaver.id),
        metadata=people.super_admin.metadata,
        timeout=TIMEOUT,
    )
    removed = time.monotonic()
    eventually(lambda: world.visible("leaver") == set(), timeout=5)
    assert time.monotonic() - removed < 2.0


def test_a_deleted_users_entries_keep_their_name_and_lose_their_id(stack, people, identity_channel):
    doomed = create_account(identity_channel, people.super_admin, unique("gone")[:20], "developer")
    project = create(stack, doomed)
    new_app(stack, doomed, project["id"])

    def theirs() -> list:
        return sql(
            stack,
            "audit",
            "SELECT user_id, username, action FROM audit_logs WHERE project_id = $1",
            uuid.UUID(project["id"]),
        )

    eventually(lambda: len(theirs()) >= 2 or None, timeout=15)
    status, _ = call(stack, people.super_admin, "DELETE", f"/v1/users/{doomed.id}")
    assert status == 200
    eventually(lambda: all(row["user_id"] is None for row in theirs()) or None, timeout=15)
    rows = theirs()
    assert {row["username"] for row in rows if row["action"].endswith(".created")} == {doomed.user.username}
    [deletion] = sql(
        stack,
        "audit",
        "SELECT user_id FROM audit_logs WHERE action = 'identity.user.deleted' AND resource_id = $1",
        uuid.UUID(doomed.id),
    )
    assert str(deletion["user_id"]) == people.super_admin.id  # the one who deleted is kept


def test_no_secret_value_reaches_the_trail(stack, people):
    project = create(stack, people.owner)
    app = new_app(stack, people.owner, project["id"])
    first, rotated = f"first-{uuid.uuid4().hex}", f"rotated-{uuid.uuid4().hex}"
    env = f"/v1/applications/{app['id']}/env-vars"
    assert (
        call(stack, people.owner, "POST", env, {"key": "API_KEY", "value": first, "is_secret": True})[0]
        == 200
    )
    assert call(stack, people.owner, "POST", f"{env}/API_KEY:reveal", {})[1]["value"] == first
    assert call(stack, people.owner, "PATCH", f"{env}/API_KEY", {"value": rotated})[0] == 200
    assert call(stack, people.owner, "POST", f"{env}/API_KEY:reveal", {})[1]["value"] == rotated
    status, database = call(
        stack,
        people.owner,
        "POST",
        f"/v1/projects/{project['id']}/databases",
        {"name": unique("db"), "type": "postgresql"},
    )
    assert status == 200, database
    status, credentials = call(stack, people.owner, "POST", f"/v1/databases/{database['id']}:reveal", {})
    assert status == 200 and len(credentials["password"]) >= 16

    def trail_text() -> str:
        rows = sql(
            stack,
            "audit",
            "SELECT action, details::text AS details FROM audit_logs WHERE project_id = $1",
            uuid.UUID(project["id"]),
        )
        return json.dumps([dict(row) for row in rows])

    eventually(lambda: trail_text().count("projects.secret.revealed") == 3 or None, timeout=15)
    text = trail_text()
    assert "projects.env_var.updated" in text and "projects.database.created" in text
    for secret in (first, rotated, credentials["password"], credentials["connection_string"]):
        assert secret not in text
