"""`dockyard` against the running platform: signing in (password prompted or on stdin, tokens in a
0600 file, refreshed on their own), DOCKYARD_TOKEN, a project and an application, a deployment
followed to its end (exit 0) and a failing one (exit 1), Ctrl-C while following, audit search,
JSON output parsed back, one-line errors naming the field (exit 1) and usage errors (exit 2)."""

import contextlib
import json
import signal
import stat
import threading
import time
import uuid

import grpc
import pytest

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_cli.client import Client, CliError
from dockyard_cli.credentials import CredentialStore
from dockyard_kit.stack.components import free_port
from tests.cli.support import Cli
from tests.support.accounts import PASSWORD
from tests.support.calls import TIMEOUT
from tests.support.certs import self_signed
from tests.support.deployments import fetch, remove_project_services
from tests.support.tokens import claims_of, with_claims, with_flipped_signature
from tests.support.waiting import eventually


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stored(cli: Cli) -> dict:
    return json.loads(cli.credentials.read_text())["servers"][cli.server]


def store(cli: Cli, **changes) -> None:
    document = json.loads(cli.credentials.read_text())
    document["servers"][cli.server].update(changes)
    cli.credentials.write_text(json.dumps(document))


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture(scope="module")
def project(dev_cli, docker_client):
    """The developer's project, made with `dockyard projects create`; its Swarm services and network
    go at the module's end."""
    result = dev_cli("--output", "json", "projects", "create", unique("cli-project"), "--tag", "cli")
    assert result.exit_code == 0, result
    created = json.loads(result.stdout)
    yield created
    remove_project_services(docker_client, created["id"])


def web_app(cli: Cli, project: dict, image: str) -> tuple[str, int]:
    """A busybox httpd application made with `dockyard apps create`: its name and host port."""
    name, port = unique("web"), free_port()
    command = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"
    result = cli(
        "apps", "create", name, "--project", project["name"], "--image", image,
        "--port", f"8080:{port}", "--command", command,
    )  # fmt: skip
    assert result.exit_code == 0, result
    return name, port


def worker_app(cli: Cli, project: dict, image: str) -> str:
    """An application with no published port (its releases start before the old one stops, so they
    are quick), made with `dockyard apps create`: its name."""
    name = unique("worker")
    result = cli(
        "apps", "create", name, "--project", project["name"], "--image", image, "--command", "exec sleep 3600"
    )
    assert result.exit_code == 0, result
    return name


# -- usage and help -------------------------------------------------------------------------------


def test_usage_errors_exit_2_and_help_explains_with_examples(cli):
    assert cli("projects", "create").exit_code == 2
    assert cli("no-such-command").exit_code == 2
    assert cli("audit", "--since", "yesterday").exit_code == 2
    assert cli("apps", "create", "web", "--project", "p").exit_code == 2  # neither --image nor --git
    for command in ([], ["deploy"], ["logs"], ["audit"], ["apps", "env", "set"], ["login"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0, result
        assert "Example" in result.stdout, command
    # Each example on a line of its own, not run together into one paragraph.
    assert any(
        line.strip() == "dockyard projects create my-saas-app" for line in cli("--help").stdout.splitlines()
    )


# -- signing in -----------------------------------------------------------------------------------


def test_login_prompts_for_the_password_and_keeps_only_tokens_private(cli, developer, identity_channel):
    result = cli("login", input=f"dev1\n{PASSWORD}\n")
    assert result.exit_code == 0, result
    assert PASSWORD not in result.stdout  # not echoed
    mode = stat.S_IMODE(cli.credentials.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700
    assert PASSWORD not in cli.credentials.read_text()
    assert claims_of(stored(cli)["access_token"])["sub"] == developer.id

    whoami = cli("--output", "json", "whoami")
    assert whoami.exit_code == 0, whoami
    assert json.loads(whoami.stdout)["username"] == "dev1"

    refresh_token = stored(cli)["refresh_token"]
    assert cli("logout").exit_code == 0
    assert cli.server not in json.loads(cli.credentials.read_text())["servers"]
    # The session ended on the server too: its refresh token no longer works.
    with pytest.raises(grpc.RpcError) as refused:
        identity_pb2_grpc.AuthServiceStub(identity_channel).Refresh(
            identity_pb2.RefreshRequest(refresh_token=refresh_token), timeout=TIMEOUT
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    after = cli("whoami")
    assert after.exit_code == 1
    assert "dockyard login" in one_line_error(after)


def test_a_wrong_password_is_one_line_and_stores_nothing(cli, developer):
    result = cli("login", "dev1", "--password-stdin", input="not the password\n")
    assert result.exit_code == 1
    one_line_error(result)
    assert not cli.credentials.exists()


def test_an_expired_access_token_is_refreshed_before_the_call(cli, developer):
    assert cli("login", "dev1", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    before = stored(cli)
    expired = with_claims(before["access_token"], exp=int(time.time()) - 60)
    store(cli, access_token=expired)

    result = cli("whoami")
    assert result.exit_code == 0, result
    after = stored(cli)
    assert after["access_token"] not in (expired, before["access_token"])
    assert after["refresh_token"] != before["refresh_token"]  # rotated on use


def test_a_refused_access_token_is_refreshed_and_the_call_made_again(cli, developer):
    assert cli("login", "dev1", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    before = stored(cli)
    forged = with_flipped_signature(before["access_token"])  # unexpired, but the server refuses it
    store(cli, access_token=forged)

    result = cli("--output", "json", "whoami")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["username"] == "dev1"
    assert stored(cli)["access_token"] not in (forged, before["access_token"])

    # A refresh token that no longer works ends the session: one line saying to sign in again.
    store(cli, access_token=forged, refresh_token="dkr_revoked-or-never-issued")
    ended = cli("whoami")
    assert ended.exit_code == 1
    assert "dockyard login" in one_line_error(ended)


def test_commands_refreshing_at_once_keep_the_session(cli, developer, monkeypatch):
    """Refresh tokens rotate and a reused one revokes the session, so two commands that find the
    access token expired at the same moment must not both spend the same refresh token. Both read
    the stored session at the same moment here (a barrier in the store's reads, given up after 2 s
    by a reader the other one keeps waiting)."""
    assert cli("login", "dev1", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    store(cli, access_token=with_claims(stored(cli)["access_token"], exp=int(time.time()) - 60))
    together = threading.Barrier(2)
    load = CredentialStore.load

    def load_together(self, server):
        session = load(self, server)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(timeout=2)
        return session

    monkeypatch.setattr(CredentialStore, "load", load_together)
    answers = []

    def whoami():
        client = Client(cli.server, CredentialStore(cli.credentials.parent), env_token="")
        try:
            user = client.call(
                identity_pb2_grpc.UserServiceStub(client.channel).GetCurrentUser,
                identity_pb2.GetCurrentUserRequest(),
            )
            answers.append(user.username)
        except CliError as error:
            answers.append(error.message)
        finally:
            client.close()

    threads = [threading.Thread(target=whoami) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == ["dev1", "dev1"]
    monkeypatch.undo()
    after = cli("whoami")
    assert after.exit_code == 0, after


def test_dockyard_token_skips_login_and_is_never_stored(cli, identity_channel, developer):
    cli.env["DOCKYARD_TOKEN"] = developer.token
    result = cli("--output", "json", "whoami")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["id"] == developer.id

    created = identity_pb2_grpc.ApiTokenServiceStub(identity_channel).CreateApiToken(
        identity_pb2.CreateApiTokenRequest(token=identity_pb2.ApiToken(name=unique("ci"), scope="read_only")),
        metadata=developer.metadata,
        timeout=TIMEOUT,
    )
    cli.env["DOCKYARD_TOKEN"] = created.secret
    assert json.loads(cli("--output", "json", "whoami").stdout)["id"] == developer.id
    # Read-only: a write is refused in one line.
    refused = cli("projects", "create", unique("ci-project"))
    assert refused.exit_code == 1
    assert "read-only" in one_line_error(refused)
    assert not cli.config_home.exists()

    cli.env["DOCKYARD_TOKEN"] = "dky_not-a-real-token"
    wrong = cli("whoami")
    assert wrong.exit_code == 1
    assert "DOCKYARD_TOKEN" in one_line_error(wrong)


# -- resources ------------------------------------------------------------------------------------


def test_bad_input_is_one_line_naming_the_field(dev_cli, project, tmp_path):
    short = dev_cli("projects", "create", "ab")
    assert short.exit_code == 1
    assert one_line_error(short).startswith("error: name:")

    name, _ = web_app(dev_cli, project, "busybox")
    bad_env = tmp_path / "bad.env"
    bad_env.write_text("GOOD=1\nthis is not an assignment\n")
    refused = dev_cli("apps", "env", "set", name, "-p", project["name"], "--from-file", str(bad_env))
    assert refused.exit_code == 1
    line = one_line_error(refused)
    assert "dotenv" in line and "line 2" in line
    # All or nothing: not even the good line was set.
    listed = dev_cli("--output", "json", "apps", "env", "list", name, "-p", project["name"])
    assert json.loads(listed.stdout) == {"env_vars": []}


def test_env_vars_from_pairs_and_a_dotenv_file(dev_cli, project, tmp_path):
    name, _ = web_app(dev_cli, project, "busybox")
    dotenv = tmp_path / ".env"
    dotenv.write_text('# settings\nexport NODE_ENV=production\nGREETING="hello world"\n')
    result = dev_cli(
        "apps", "env", "set", name, "-p", project["name"], "--from-file", str(dotenv),
        "PORT=8080", 'QUOTED=say "hi" \\ back',
    )  # fmt: skip
    assert result.exit_code == 0, result
    secret = dev_cli("apps", "env", "set", name, "-p", project["name"], "--secret", "API_KEY=sk_123")
    assert secret.exit_code == 0, secret

    listed = dev_cli("--output", "json", "apps", "env", "list", name, "-p", project["name"])
    values = {var["key"]: var["value"] for var in json.loads(listed.stdout)["env_vars"]}
    assert values == {
        "API_KEY": "********",
        "GREETING": "hello world",
        "NODE_ENV": "production",
        "PORT": "8080",
        "QUOTED": 'say "hi" \\ back',
    }
    revealed = dev_cli("apps", "env", "reveal", name, "API_KEY", "-p", project["name"])
    assert revealed.stdout.strip() == "sk_123"

    assert dev_cli("apps", "env", "unset", name, "PORT", "GREETING", "-p", project["name"]).exit_code == 0
    listed = dev_cli("--output", "json", "apps", "env", "list", name, "-p", project["name"])
    assert [var["key"] for var in json.loads(listed.stdout)["env_vars"]] == ["API_KEY", "NODE_ENV", "QUOTED"]


def test_an_application_from_a_git_source(dev_cli, project, gateway_channel, developer):
    name = unique("api")
    url = "https://git.example.com/acme/api-service.git"
    result = dev_cli(
        "--output", "json", "apps", "create", name, "-p", project["name"], "--git", url, "--provider", "gitea",
        "--branch", "release", "--dockerfile", "docker/Dockerfile", "--port", "8080",
    )  # fmt: skip
    assert result.exit_code == 0, result
    app = json.loads(result.stdout)
    assert (app["type"], app["source_type"]) == ("git", "gitea")
    assert app["source_config"] == {"repository_url": url, "dockerfile": "docker/Dockerfile"}
    assert app["docker_config"] == {"ports": [{"target": 8080}]}
    source = projects_pb2_grpc.GitSourceServiceStub(gateway_channel).GetGitSource(
        projects_pb2.GetGitSourceRequest(application_id=app["id"]),
        metadata=developer.metadata,
        timeout=TIMEOUT,
    )
    assert (source.provider, source.repository, source.branch) == ("gitea", "acme/api-service", "release")


def test_projects_and_applications_listed_as_text_and_json(dev_cli, project):
    name, _ = web_app(dev_cli, project, "busybox")
    text = dev_cli("projects", "list", "--tag", "cli")
    assert text.exit_code == 0, text
    header, *rows = text.stdout.splitlines()
    assert header.split("\t")[:2] == ["ID", "NAME"]  # piped: plain tab-separated text
    assert [row.split("\t")[1] for row in rows] == [project["name"]]

    listed = json.loads(dev_cli("--output", "json", "apps", "list", "-p", project["name"]).stdout)
    (app,) = [a for a in listed["applications"] if a["name"] == name]
    assert app["status"] == "stopped" and app["replicas"] == 1

    assert dev_cli("apps", "archive", name, "-p", project["name"]).exit_code == 0
    live = json.loads(dev_cli("--output", "json", "apps", "list", "-p", project["name"]).stdout)
    assert name not in [a["name"] for a in live["applications"]]
    restored = dev_cli("--output", "json", "apps", "restore", name, "-p", project["name"])
    assert json.loads(restored.stdout)["status"] == "stopped"


# -- deployments ----------------------------------------------------------------------------------


def test_a_deployment_followed_to_success_then_scaled_and_stopped(dev_cli, project, busybox_image):
    name, port = web_app(dev_cli, project, busybox_image)
    result = dev_cli("deploy", name, "--project", project["name"])
    assert result.exit_code == 0, result
    assert "deployment succeeded" in result.stdout  # the log, followed live
    assert " success" in result.stderr  # the outcome
    assert fetch(port) == "hello"

    listed = dev_cli("--output", "json", "deployments", "list", name, "-p", project["name"])
    (deployment,) = json.loads(listed.stdout)["deployments"]
    assert deployment["status"] == "success"
    logs = dev_cli("logs", deployment["id"])
    assert "deployment succeeded" in logs.stdout

    stopped = dev_cli("--output", "json", "apps", "stop", name, "-p", project["name"])
    assert json.loads(stopped.stdout)["replicas"] == 0
    started = dev_cli("--output", "json", "apps", "start", name, "-p", project["name"], "--replicas", "2")
    assert json.loads(started.stdout)["replicas"] == 2


def test_a_failing_deployment_exits_1(dev_cli, project):
    name, _ = web_app(dev_cli, project, f"dockyard-test/missing-{uuid.uuid4().hex[:8]}:1")
    result = dev_cli("deploy", name, "--project", project["name"])
    assert result.exit_code == 1, result
    assert " failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_while_following_leaves_the_deployment_running(dev_cli, project, busybox_image, tmp_path):
    name = worker_app(dev_cli, project, busybox_image)
    # A deployment ahead of it keeps the followed one pending for a while.
    ahead = dev_cli("--output", "json", "deploy", name, "-p", project["name"], "--detach")
    assert ahead.exit_code == 0, ahead
    process = dev_cli.spawn("deploy", name, "--project", project["name"], cwd=tmp_path)
    first = process.stderr.readline()
    assert "queued" in first, first
    deployment_id = first.split()[1]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "keeps running" in stderr and f"dockyard cancel {deployment_id}" in stderr, stderr

    def ended():
        shown = dev_cli("--output", "json", "deployments", "get", deployment_id)
        return json.loads(shown.stdout)["status"] in ("success", "failed", "rolled_back")

    eventually(ended, timeout=120, interval=0.5)  # it went on without the command


def test_audit_search_finds_the_project(dev_cli, project):
    def found():
        result = dev_cli(
            "--output", "json", "audit", "--resource-type", "project", "--resource-id", project["id"], "--since", "1h"
        )  # fmt: skip
        assert result.exit_code == 0, result
        return [entry["action"] for entry in json.loads(result.stdout)["audit_logs"]]

    assert "projects.project.created" in eventually(found, timeout=30, interval=0.5)
    text = dev_cli("audit", "--query", project["name"], "--since", "1d")
    assert project["id"] in text.stdout


def test_status_reports_every_service(cli):
    result = cli("--output", "json", "status")
    assert result.exit_code == 0, result
    names = {service["name"] for service in json.loads(result.stdout)["services"]}
    assert {"identity", "projects", "deployer", "audit"} <= names


def test_admins_manage_users_and_teams(admin_cli, dev_cli):
    username = unique("grace")
    created = admin_cli(
        "--output", "json", "users", "create", username, "--email", f"{username}@example.com", "--password-stdin",
        input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert created.exit_code == 0, created
    user = json.loads(created.stdout)
    assert user["role"] == "developer" and "password" not in user

    listed = json.loads(admin_cli("--output", "json", "users", "list", "--prefix", username).stdout)
    assert [u["id"] for u in listed["users"]] == [user["id"]]

    team = unique("team")
    assert admin_cli("teams", "create", team, "--description", "made by the CLI").exit_code == 0
    added = admin_cli("teams", "add-member", team, username, "--role", "admin")
    assert added.exit_code == 0, added
    members = json.loads(admin_cli("--output", "json", "teams", "members", team).stdout)["members"]
    assert {(m["username"], m["role"]) for m in members} >= {(username, "admin")}

    # An invitation the developer answers from their own command line.
    invited = admin_cli("--output", "json", "teams", "invite", team, "dev1", "--role", "viewer")
    assert invited.exit_code == 0, invited
    waiting = json.loads(dev_cli("--output", "json", "teams", "invitations").stdout)["invitations"]
    (invitation,) = [i for i in waiting if i["team_name"] == team]
    joined = dev_cli("--output", "json", "teams", "accept", invitation["id"])
    assert joined.exit_code == 0, joined
    assert json.loads(joined.stdout)["role"] == "viewer"
    again = dev_cli("teams", "accept", invitation["id"])
    assert again.exit_code == 1
    one_line_error(again)

    disabled = admin_cli("--output", "json", "users", "disable", username)
    assert json.loads(disabled.stdout)["disabled"] is True

    refused = dev_cli("users", "create", unique("eve"), "--email", "eve@example.com", "--password-stdin",
                      input=f"{PASSWORD}\n")  # fmt: skip
    assert refused.exit_code == 1
    one_line_error(refused)
    missing = admin_cli("users", "get", "nobody-by-this-name")
    assert missing.exit_code == 1
    assert "no user named" in one_line_error(missing)


def test_databases_domains_and_certificates(dev_cli, project, tmp_path):
    p = ("--project", project["name"])
    database = dev_cli("--output", "json", "databases", "create", "app-db", *p, "--type", "postgresql")
    assert database.exit_code == 0, database
    assert "********" in json.loads(database.stdout)["connection_string"]
    credentials = json.loads(dev_cli("--output", "json", "databases", "credentials", "app-db", *p).stdout)
    assert credentials["password"] and credentials["password"] != "********"

    app_name, _ = web_app(dev_cli, project, "busybox")
    host = f"{uuid.uuid4().hex[:10]}.example.com"
    domain = dev_cli("--output", "json", "domains", "add", host, *p, "--app", app_name)
    assert domain.exit_code == 0, domain
    assert json.loads(domain.stdout)["verification_state"] == "pending"
    listed = json.loads(dev_cli("--output", "json", "domains", "list", *p).stdout)
    assert host in [d["domain"] for d in listed["domains"]]

    issued = self_signed(host)
    (tmp_path / "cert.pem").write_text(issued.certificate)
    (tmp_path / "key.pem").write_text(issued.private_key)
    added = dev_cli(
        "--output", "json", "certs", "add", host, *p, "--cert", str(tmp_path / "cert.pem"),
        "--key", str(tmp_path / "key.pem"),
    )  # fmt: skip
    assert added.exit_code == 0, added
    certificate = json.loads(added.stdout)
    assert "private_key" not in certificate or certificate["private_key"] == "********"
    expiring = json.loads(dev_cli("--output", "json", "certs", "expiring", "--within-days", "365").stdout)
    assert certificate["id"] in [c["id"] for c in expiring["certificates"]]

    # A certificate that does not cover the host name is refused in one line.
    (tmp_path / "other.pem").write_text(self_signed("other.example.org").certificate)
    wrong = dev_cli(
        "certs", "add", host, *p, "--cert", str(tmp_path / "other.pem"), "--key", str(tmp_path / "key.pem")
    )
    assert wrong.exit_code == 1
    one_line_error(wrong)

    assert dev_cli("certs", "delete", certificate["id"]).exit_code == 0
    assert dev_cli("domains", "delete", host, *p).exit_code == 0
    assert dev_cli("databases", "delete", "app-db", *p, "--yes").exit_code == 0


def test_rollback_and_cancel(dev_cli, project, busybox_image):
    p = ("--project", project["name"])
    name = worker_app(dev_cli, project, busybox_image)
    for _ in range(2):
        deployed = dev_cli("deploy", name, *p)
        assert deployed.exit_code == 0, deployed
    rolled = dev_cli("rollback", name, *p)
    assert rolled.exit_code == 0, rolled
    latest = json.loads(dev_cli("--output", "json", "deployments", "list", name, *p, "--limit", "1").stdout)
    assert latest["deployments"][0]["metadata"]["trigger"] == "rollback"

    # A second deployment queued behind a running one is cancelled while pending.
    running = json.loads(dev_cli("--output", "json", "deploy", name, *p, "--detach").stdout)
    queued = json.loads(dev_cli("--output", "json", "deploy", name, *p, "--detach").stdout)
    cancelled = dev_cli("--output", "json", "cancel", queued["id"])
    assert cancelled.exit_code == 0, cancelled

    def ended(deployment_id):
        shown = json.loads(dev_cli("--output", "json", "deployments", "get", deployment_id).stdout)
        return shown if shown["status"] in ("success", "failed", "rolled_back") else None

    assert eventually(lambda: ended(queued["id"]), timeout=30)["metadata"]["reason"] == "cancelled"
    eventually(lambda: ended(running["id"]), timeout=120, interval=0.5)
