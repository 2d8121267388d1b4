"""`dockyard` against the running platform: signing in (password prompted or on stdin, tokens in a
0600 file, refreshed on their own), DOCKYARD_TOKEN, a project and an application, a deployment
followed to its end (exit 0) and a failing one (exit 1), Ctrl-C while following, audit search,
JSON output parsed back, one-line errors naming the field (exit 1) and usage errors (exit 2)."""

import json
import signal
import stat
import time
import uuid

import pytest

from dockyard.identity.v1 import identity_pb2, identity_pb2_grpc
from dockyard_kit.stack.components import free_port
from tests.cli.conftest import Cli, entry_point
from tests.deployer.support import fetch, remove_project_services
from tests.support.accounts import PASSWORD
from tests.support.calls import TIMEOUT
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


# -- usage and help -------------------------------------------------------------------------------


def test_usage_errors_exit_2_and_help_explains_with_examples(cli):
    assert cli("projects", "create").exit_code == 2
    assert cli("no-such-command").exit_code == 2
    assert cli("audit", "--since", "yesterday").exit_code == 2
    assert cli("apps", "create", "web", "--project", "p").exit_code == 2  # neither --image nor --git
    for command in (["deploy"], ["logs"], ["audit"], ["apps", "env", "set"], ["login"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0, result
        assert "Example" in result.stdout, command


def test_the_installed_command_runs_from_any_directory(tmp_path):
    import subprocess

    done = subprocess.run(
        [str(entry_point()), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "deploy" in done.stdout


# -- signing in -----------------------------------------------------------------------------------


def test_login_prompts_for_the_password_and_keeps_only_tokens_private(cli, developer):
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

    assert cli("logout").exit_code == 0
    assert cli.server not in json.loads(cli.credentials.read_text())["servers"]
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
    name, _ = web_app(dev_cli, project, busybox_image)
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
    assert "keeps running" in stderr and f"dockyard cancel {deployment_id}" in stderr

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
