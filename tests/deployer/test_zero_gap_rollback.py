"""A rollback without a gap: an application publishing no host port is updated start-first, so while a
new version that fails its health check is tried and rolled back, the old one keeps answering. A
probe container on the project's network asks every task behind the application's alias every 100 ms
for the whole rollout; every try must be answered, and only by the old version."""

import pytest

from services.deployer.docker.swarm import network_name
from tests.deployer.support import application_service
from tests.support.deployments import deploy, wait_final
from tests.support.resources import call, new_app
from tests.support.waiting import eventually

MONITOR_SECONDS = 2
PROBE_INTERVAL_SECONDS = 0.1
# Over the rollout of a version tried and rolled back, the probe asks many more times than this.
MIN_TRIES = 30
HEALTHY_CHECK = {"test": "wget -q -O /dev/null http://127.0.0.1:8080/", "interval_s": 1, "retries": 2}
# v2 serves HTTP like v1: only its health check fails, so any v2 answer means Swarm routed to it.
FAILING_CHECK = {"test": "exit 1", "interval_s": 1, "timeout_s": 1, "retries": 1}
# Not docker_support.TEST_LABELS (dockyard.test=1, which a container of the test image inherits):
# every session on the engine removes containers carrying those when it starts and ends, which killed
# this test's probe mid-rollout. The probe overrides the value; the test removes it itself.
PROBE_LABELS = {"dockyard.test": "probe"}


@pytest.fixture(scope="module")
def stack_env():
    return {"DOCKYARD_ROLLOUT_MONITOR_SECONDS": str(MONITOR_SECONDS)}


def unpublished_web_config(image: str, content: str, health_check: dict) -> dict:
    """busybox httpd serving `content` on 8080 inside the project's network only (no published port,
    so Swarm may run the old and the new task side by side)."""
    command = f"mkdir -p /www && echo {content} > /www/index.html && exec httpd -f -p 8080 -h /www"
    return {"image": image, "command": command, "health_check": health_check}


def probe_script(alias: str) -> str:
    """One line per try: `try` and, for each address the name's tasks resolve to, `<address>=<body>`
    (FAIL when it did not answer within a second).

    Why not just `wget http://<alias>:8080/`: the alias resolves to the service's virtual IP, which
    Swarm routes with the kernel's IPVS, and this engine's kernel has none (the VIP answers "No route
    to host"); so the probe asks Docker's DNS for `tasks.<alias>`, the addresses of the tasks Swarm
    puts behind the name, and fetches from each. The test image's busybox is static glibc: its wget
    crashes on a host name (NSS) and on -T, so nslookup (its own resolver) resolves and `timeout`
    bounds each fetch."""
    return (
        "while true; do"
        f" addresses=$(nslookup tasks.{alias} 2>/dev/null | sed -n 's/^Address: //p');"
        " line=try;"
        " for address in $addresses; do"
        ' body=$(timeout 1 wget -q -O - "http://$address:8080/" 2>/dev/null) || body=FAIL;'
        ' line="$line $address=$body";'
        " done;"
        ' echo "$line";'
        f" sleep {PROBE_INTERVAL_SECONDS};"
        " done"
    )


def probe_tries(probe) -> list[dict[str, str]]:
    """Each try's answers, by address."""
    lines = probe.logs(stdout=True, stderr=False).decode().splitlines()
    return [
        dict(answer.split("=", 1) for answer in line.split()[1:]) for line in lines if line.startswith("try")
    ]


def answered(tries: list[dict[str, str]], content: str) -> bool:
    return any(content in answers.values() for answers in tries)


def set_version(stack, account, application_id: str, image: str, content: str, health_check: dict):
    config = unpublished_web_config(image, content, health_check)
    status, body = call(
        stack, account, "PATCH", f"/v1/applications/{application_id}", {"docker_config": config}
    )
    assert status == 200, body


def test_the_old_version_answers_throughout_a_health_check_rollback(
    stack, people, project, busybox_image, docker_client
):
    app = new_app(
        stack,
        people.owner,
        project["id"],
        docker_config=unpublished_web_config(busybox_image, "v1", HEALTHY_CHECK),
    )
    first = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
    assert first["status"] == "success", (first["metadata"], first["logs"])
    service = application_service(docker_client, app["id"])
    assert service.attrs["Spec"]["UpdateConfig"]["Order"] == "start-first"
    [attachment] = service.attrs["Spec"]["TaskTemplate"]["Networks"]
    [alias] = attachment["Aliases"]

    probe = docker_client.containers.run(
        busybox_image,
        ["sh", "-c", probe_script(alias)],
        network=network_name(project["id"]),
        detach=True,
        labels=PROBE_LABELS,
    )
    try:
        # The probe reaches v1 before the rollout starts, so what follows is about the rollout only.
        try:
            eventually(lambda: answered(probe_tries(probe), "v1"), timeout=30, interval=0.2)
        except AssertionError:
            pytest.fail(f"the probe never reached v1; its last tries: {probe_tries(probe)[-10:]}")
        set_version(stack, people.owner, app["id"], busybox_image, "v2", FAILING_CHECK)
        tried_from = len(probe_tries(probe))
        ended = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
        during = probe_tries(probe)[tried_from:]
        # The control: a v3 that passes its check is seen by the probe once healthy, so seeing only
        # v1 above is Swarm keeping the unhealthy v2 out, not a probe blind to new tasks.
        set_version(stack, people.owner, app["id"], busybox_image, "v3", HEALTHY_CHECK)
        control = wait_final(stack, people.owner, deploy(stack, people.owner, app["id"])["id"])
        eventually(lambda: answered(probe_tries(probe), "v3"), timeout=30, interval=0.2)
    finally:
        probe.remove(force=True)

    assert ended["status"] == "rolled_back", (ended["metadata"], ended["logs"])
    assert "failed its health check" in ended["logs"], ended["logs"]
    assert len(during) >= MIN_TRIES, during
    # Every try found the name answered, and only by v1: v2's task, never healthy, was never behind it.
    assert [answers for answers in during if not answers or set(answers.values()) != {"v1"}] == [], during
    assert control["status"] == "success", (control["metadata"], control["logs"])
