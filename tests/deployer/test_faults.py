"""Deployments when things go wrong, on the running platform with a real Docker Swarm: a new version
failing its health check is rolled back by Swarm; RollbackApplication returns to an earlier image;
cancelling a pending and a running deployment; concurrent deployments of one application run one at
a time, in order; a deployer killed (-9) during a rollout has its deployment taken over by another
replica once the lease runs out."""

import datetime
import itertools
import threading
import time
import uuid

import pytest

from tests.deployer.support import application_service, content_image, deployment_by_a_replica
from tests.support.deployments import deploy, fetch, wait_final, web_app, web_config
from tests.support.replicas import service_replica
from tests.support.resources import call, new_app, outbox, sql
from tests.support.waiting import eventually

LEASE_SECONDS = 3
MONITOR_SECONDS = 1
# A version that answers only after this long: its rollout lasts at least that long.
SLOW_START_SECONDS = 8
FAILED_PRECONDITION = 9  # google.rpc.Code, in a REST error's body


@pytest.fixture(scope="module")
def stack_env():
    return {
        "DOCKYARD_ROLLOUT_MONITOR_SECONDS": str(MONITOR_SECONDS),
        "DOCKYARD_DEPLOY_LEASE_SECONDS": str(LEASE_SECONDS),
    }


def healthy_check() -> dict:
    return {"test": "wget -q -O /dev/null http://127.0.0.1:8080/", "interval_s": 1, "retries": 2}


def update_config(stack, account, application_id: str, config: dict) -> None:
    status, body = call(
        stack, account, "PATCH", f"/v1/applications/{application_id}", {"docker_config": config}
    )
    assert status == 200, body


def deployed(stack, account, application_id: str) -> dict:
    ended = wait_final(stack, account, deploy(stack, account, application_id)["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    return ended


def deployment_rows(stack, application_id: str) -> list:
    return sql(
        stack,
        "deployer",
        "SELECT id, status, attempts, lease_owner, metadata->>'claimed_at' AS claimed_at, started_at,"
        " completed_at FROM deployments WHERE application_id = $1 ORDER BY started_at, id",
        uuid.UUID(application_id),
    )


def slow_start_config(image: str, port: int, content: str) -> dict:
    """httpd only after SLOW_START_SECONDS; the health check waits for it (start_period)."""
    config = web_config(image, port, content, health_check={**healthy_check(), "start_period_s": 60})
    config["command"] = f"sleep {SLOW_START_SECONDS} && {config['command']}"
    return config


def wait_updating(docker_client, application_id: str) -> None:
    """Until Swarm is rolling the application's service out (an update in progress)."""

    def updating():
        service = application_service(docker_client, application_id)
        return service is not None and (service.attrs.get("UpdateStatus") or {}).get("State") == "updating"

    eventually(updating, timeout=30, interval=0.2)


def test_a_version_failing_its_health_check_is_rolled_back(
    stack, people, project, busybox_image, docker_client
):
    app, port = web_app(stack, people.owner, project["id"], busybox_image)
    update_config(
        stack, people.owner, app["id"], web_config(busybox_image, port, "v1", health_check=healthy_check())
    )
    deployed(stack, people.owner, app["id"])
    assert fetch(port) == "v1"
    failing = {"test": "exit 1", "interval_s": 1, "timeout_s": 1, "retries": 1}
    update_config(stack, people.owner, app["id"], web_config(busybox_image, port, "v2", health_check=failing))
    answers: list[str] = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                answers.append(fetch(port, timeout=0))
            except OSError:
                answers.append("")
            time.sleep(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        ended = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    finally:
        stop.set()
        poller.join()
    assert ended["status"] == "rolled_back", (ended["metadata"], ended["logs"])
    assert "deployment rolled back" in ended["logs"] and "failed its health check" in ended["logs"]
    assert ended["metadata"]["reason"]
    assert "deployer.deployment.rolled_back" in [
        e.type for e in outbox(stack, ended["id"], schema="deployer")
    ]
    # What is asserted about availability: the port is published in host mode, so Swarm updates
    # stop-first (swarm.update_order; DESIGN.md: a host port cannot be bound twice), which leaves a gap
    # while v1 is stopped and v2 tried. So the poll does not count failures; it shows v1 answered
    # before the rollout and answers again once Swarm rolled back - never v2 at the end.
    service = application_service(docker_client, app["id"])
    assert service.attrs["Spec"]["UpdateConfig"]["Order"] == "stop-first"
    assert answers and answers[0] == "v1"
    assert fetch(port) == "v1"


def test_rollback_application_returns_to_the_previous_image(
    stack, people, project, busybox_image, docker_client
):
    v1, v2 = (content_image(docker_client, busybox_image, content) for content in ("r1", "r2"))
    app, port = web_app(stack, people.owner, project["id"], v1)
    serve = {"command": "exec httpd -f -p 8080 -h /www"}
    update_config(stack, people.owner, app["id"], {**web_config(v1, port), **serve})
    first = deployed(stack, people.owner, app["id"])
    rollback = f"/v1/applications/{app['id']}:rollback"
    # One success only: nothing earlier to go back to.
    status, body = call(stack, people.owner, "POST", rollback, {})
    assert (status, body["code"]) == (400, FAILED_PRECONDITION), body
    update_config(stack, people.owner, app["id"], {**web_config(v2, port), **serve})
    deployed(stack, people.owner, app["id"])
    assert fetch(port) == "r2"
    status, body = call(stack, people.owner, "POST", rollback, {"deployment_id": str(uuid.uuid4())})
    assert status == 400 and "deployment_id" in body["message"], body
    status, queued = call(stack, people.owner, "POST", rollback, {})
    assert status == 200, queued
    assert queued["metadata"]["rollback_to"] == first["id"] and queued["metadata"]["trigger"] == "rollback"
    ended = wait_final(stack, people.owner, queued["id"])
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert f"rolling back to deployment {first['id']}" in ended["logs"]
    assert fetch(port) == "r1"


def test_cancelling_a_pending_deployment(stack, people, project, busybox_image):
    app, port = web_app(stack, people.owner, project["id"], busybox_image)
    update_config(stack, people.owner, app["id"], slow_start_config(busybox_image, port, "c1"))
    running = deploy(stack, people.owner, app["id"])
    waiting = deploy(stack, people.member, app["id"])
    status, cancelled = call(stack, people.member, "POST", f"/v1/deployments/{waiting['id']}:cancel", {})
    assert status == 200, cancelled
    assert cancelled["status"] == "failed" and "completed_at" in cancelled
    assert cancelled["metadata"]["reason"] == "cancelled"
    assert cancelled["metadata"]["cancelled_by"] == people.member.id
    verbs = [e.type for e in outbox(stack, waiting["id"], schema="deployer")]
    assert verbs == ["deployer.deployment.queued", "deployer.deployment.cancelled"]
    # An ended deployment cannot be cancelled.
    status, body = call(stack, people.member, "POST", f"/v1/deployments/{waiting['id']}:cancel", {})
    assert (status, body["code"]) == (400, FAILED_PRECONDITION), body
    ended = wait_final(stack, people.owner, running["id"], timeout=SLOW_START_SECONDS + 60)
    assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    assert fetch(port) == "c1"


def test_cancelling_a_running_rollout_keeps_the_previous_version(
    stack, people, project, busybox_image, docker_client
):
    app, port = web_app(stack, people.owner, project["id"], busybox_image)
    update_config(stack, people.owner, app["id"], web_config(busybox_image, port, "k1"))
    deployed(stack, people.owner, app["id"])
    update_config(stack, people.owner, app["id"], slow_start_config(busybox_image, port, "k2"))
    rollout = deploy(stack, people.owner, app["id"])
    wait_updating(docker_client, app["id"])
    status, asked = call(stack, people.member, "POST", f"/v1/deployments/{rollout['id']}:cancel", {})
    assert status == 200 and asked["status"] == "deploying", asked
    # A rollback on a host port may wait a minute for Swarm (test_swarm_adapter.ROLLOUT_TIMEOUT_SECONDS).
    ended = wait_final(stack, people.owner, rollout["id"], timeout=SLOW_START_SECONDS + 120)
    assert ended["status"] == "failed", (ended["metadata"], ended["logs"])
    assert ended["metadata"]["reason"] == "cancelled" and ended["metadata"]["phase"] == "deploying"
    assert ended["metadata"]["cancelled_by"] == people.member.id
    assert "rolling the service back to the previous version" in ended["logs"]
    assert "deployer.deployment.cancelled" in [
        e.type for e in outbox(stack, rollout["id"], schema="deployer")
    ]
    # Swarm rolled the update back: v1 answers (after the stop-first gap a host port implies).
    assert fetch(port) == "k1"
    status, body = call(stack, people.member, "POST", f"/v1/deployments/{rollout['id']}:cancel", {})
    assert (status, body["code"]) == (400, FAILED_PRECONDITION), body


def test_concurrent_deployments_of_one_application_run_one_at_a_time_in_order(
    stack, people, project, busybox_image
):
    app, _ = web_app(stack, people.owner, project["id"], busybox_image)
    # No published port: each update is start-first and quick.
    update_config(stack, people.owner, app["id"], web_config(busybox_image, 0, "o", ports=[]))
    running_at_once: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rows = sql(
                stack,
                "deployer",
                "SELECT count(*) AS running FROM deployments WHERE status IN ('building', 'deploying')"
                " GROUP BY application_id",
            )
            running_at_once.extend(row["running"] for row in rows)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    created: list[dict] = []
    errors: list[BaseException] = []

    def create_one():
        try:
            created.append(deploy(stack, people.owner, app["id"]))
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    callers = [threading.Thread(target=create_one) for _ in range(5)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    try:
        assert not errors and len(created) == 5
        for deployment in created:
            ended = wait_final(stack, people.owner, deployment["id"], timeout=120)
            assert ended["status"] == "success", (ended["metadata"], ended["logs"])
    finally:
        stop.set()
        sampler.join()
    assert running_at_once and max(running_at_once) == 1
    rows = deployment_rows(stack, app["id"])
    assert len(rows) == 5
    # In queue order: each claimed only after the one queued before it had ended.
    for earlier, later in itertools.pairwise(rows):
        assert earlier["completed_at"] <= later["completed_at"]
        assert earlier["completed_at"] <= datetime.datetime.fromisoformat(later["claimed_at"]), (
            earlier,
            later,
        )


def test_a_deployer_killed_during_a_rollout_is_taken_over_once_its_lease_runs_out(
    stack, people, project, busybox_image, docker_client
):
    """The stack stops as a whole when one of its services dies, so the deployer killed is a second
    replica: the stack's own deployer is paused (SIGSTOP) while the replica claims the deployment,
    resumed once the replica is killed, and takes the deployment over when the lease runs out."""
    app, port = web_app(stack, people.owner, project["id"], busybox_image)
    update_config(stack, people.owner, app["id"], web_config(busybox_image, port, "d1"))
    deployed(stack, people.owner, app["id"])
    update_config(stack, people.owner, app["id"], slow_start_config(busybox_image, port, "d2"))
    settings = {"DOCKYARD_DEPLOY_LEASE_SECONDS": str(LEASE_SECONDS), "DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1"}
    with deployment_by_a_replica(stack, people.owner, app["id"], **settings) as (replica, deployment):
        wait_updating(docker_client, app["id"])
        [row] = [r for r in deployment_rows(stack, app["id"]) if str(r["id"]) == deployment.id]
        assert row["status"] == "deploying" and f":{replica.process.pid}:" in row["lease_owner"], row
        replica.kill()
    killed_at = time.monotonic()
    # Never stuck: ended within the lease plus what is left of the rollout (and polling slack).
    ended = wait_final(stack, people.owner, deployment.id, timeout=LEASE_SECONDS + SLOW_START_SECONDS + 30)
    assert time.monotonic() - killed_at < LEASE_SECONDS + SLOW_START_SECONDS + 30
    assert "taken over by" in ended["logs"] and "during deploying" in ended["logs"], ended["logs"]
    # Recorded as Swarm ended the rollout (converged, or rolled back), or failed naming the phase.
    if ended["status"] == "success":
        assert ended["metadata"]["resumed"] is True
        assert fetch(port) == "d2"
    elif ended["status"] == "rolled_back":
        assert fetch(port) == "d1"
    else:
        assert ended["metadata"]["phase"] == "deploying", ended["metadata"]
    [row] = [r for r in deployment_rows(stack, app["id"]) if str(r["id"]) == deployment.id]
    assert row["attempts"] == 2 and row["lease_owner"] is None


def test_two_deployers_share_one_queue_and_never_run_a_deployment_twice(
    stack, people, project, busybox_image
):
    """Six applications, two deployments each, with the stack's deployer and a second replica (four at
    a time each, so both must work): every deployment runs once (one claim, one worker), and an
    application's second starts only after its first has ended."""
    config = {"image": busybox_image, "command": "exec httpd -f -p 8080 -h /"}
    apps = [new_app(stack, people.owner, project["id"], docker_config=config) for _ in range(6)]
    settings = {"DOCKYARD_DEPLOY_LEASE_SECONDS": str(LEASE_SECONDS), "DOCKYARD_ROLLOUT_MONITOR_SECONDS": "1"}
    with service_replica(stack, "deployer", **settings):
        queued = [deploy(stack, people.owner, app["id"])["id"] for _ in range(2) for app in apps]
        ended = [wait_final(stack, people.owner, deployment_id, timeout=180) for deployment_id in queued]
    assert [deployment["status"] for deployment in ended] == ["success"] * len(queued), [
        deployment["metadata"] for deployment in ended
    ]
    rows = sql(
        stack,
        "deployer",
        "SELECT id, application_id, attempts, completed_at, metadata->>'claimed_at' AS claimed_at, logs"
        " FROM deployments WHERE id = ANY($1::uuid[]) ORDER BY started_at",
        [uuid.UUID(deployment_id) for deployment_id in queued],
    )
    assert [row["attempts"] for row in rows] == [1] * len(queued)
    workers = {row["logs"].split(" started by ", 1)[1].split(" (attempt", 1)[0] for row in rows}
    assert len(workers) == 2, workers
    for app in apps:
        first, second = [row for row in rows if str(row["application_id"]) == app["id"]]
        assert first["completed_at"] <= datetime.datetime.fromisoformat(second["claimed_at"])
