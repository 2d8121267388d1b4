"""The deployer's benchmarks (issue 14), against a platform of its own and the local Docker swarm:

- deploy overhead: a busybox image, 1 replica, from the API call until the task answers HTTP, against
  `docker service create` of the same image plus waiting for the same answer; median of 5, the two
  interleaved in one run. Target: Dockyard <= 1.10 x Docker alone.
- queue drain: 100 deployments over 20 applications, at two concurrency settings; sampled every
  50 ms, never two running for one application, and every one ends.
- log follow: from a line being written (its created_at) to a following client having it; p99 < 200 ms.

    make bench
    .venv/bin/python -m bench.deploy
"""

import asyncio
import datetime
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import asyncpg
import grpc
from rich.console import Console
from rich.table import Table

from bench.support import percentiles, platform, sign_in_admin, write_results
from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard.projects.v1 import projects_pb2, projects_pb2_grpc
from dockyard_kit.stack.components import free_port

IMAGE = "dockyard-bench/busybox:latest"
DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
COMMAND = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"
ROUNDS = 5
TARGET_RATIO = 1.10
DRAIN_DEPLOYMENTS, DRAIN_APPLICATIONS = 100, 20
FOLLOW_TARGET_P99_MS = 200.0
FINAL = ("success", "failed", "rolled_back")


def build_image() -> None:
    with tempfile.TemporaryDirectory() as context:
        shutil.copy("/bin/busybox", pathlib.Path(context, "busybox"))
        pathlib.Path(context, "Dockerfile").write_text(DOCKERFILE)
        subprocess.run(["docker", "build", "-q", "-t", IMAGE, context], check=True, capture_output=True)


def wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def docker_alone() -> float:
    port, name = free_port(), f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    subprocess.run(
        ["docker", "service", "create", "--detach", "--name", name, "--restart-condition", "on-failure",
         "--publish", f"mode=host,target=8080,published={port}", IMAGE, "sh", "-c", COMMAND],
        check=True, capture_output=True,
    )  # fmt: skip
    wait_http(port)
    elapsed = time.perf_counter() - started
    subprocess.run(["docker", "service", "rm", name], check=True, capture_output=True)
    return elapsed


class Client:
    def __init__(self, channel: grpc.Channel, token: str) -> None:
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.projects = projects_pb2_grpc.ProjectServiceStub(channel)
        self.applications = projects_pb2_grpc.ApplicationServiceStub(channel)
        self.deployments = deployer_pb2_grpc.DeploymentServiceStub(channel)
        self.project = self.projects.CreateProject(
            projects_pb2.CreateProjectRequest(
                project=projects_pb2.Project(name=f"bench-{uuid.uuid4().hex[:6]}")
            ),
            metadata=self.metadata,
            timeout=10,
        )

    def application(self, port: int | None = None) -> projects_pb2.Application:
        config = {"image": IMAGE, "command": COMMAND}
        if port is not None:
            config["ports"] = [{"target": 8080, "published": port, "mode": "host"}]
        application = projects_pb2.Application(name=f"app-{uuid.uuid4().hex[:8]}", type="docker")
        application.docker_config.update(config)
        return self.applications.CreateApplication(
            projects_pb2.CreateApplicationRequest(project_id=self.project.id, application=application),
            metadata=self.metadata,
            timeout=10,
        )

    def deploy(self, application_id: str) -> deployer_pb2.Deployment:
        for _ in range(100):  # the deployer hears of a new application by projects' events
            try:
                return self.deployments.CreateDeployment(
                    deployer_pb2.CreateDeploymentRequest(application_id=application_id),
                    metadata=self.metadata,
                    timeout=10,
                )
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                time.sleep(0.05)
        raise RuntimeError("the deployer never heard of the application")

    def wait_final(self, deployment_id: str, timeout: float = 300) -> deployer_pb2.Deployment:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deployment = self.deployments.GetDeployment(
                deployer_pb2.GetDeploymentRequest(deployment_id=deployment_id),
                metadata=self.metadata,
                timeout=10,
            )
            if deployment.status in FINAL:
                return deployment
            time.sleep(0.1)
        raise RuntimeError(f"deployment {deployment_id} did not end")

    def archive(self, application_id: str) -> None:
        self.applications.DeleteApplication(
            projects_pb2.DeleteApplicationRequest(application_id=application_id),
            metadata=self.metadata,
            timeout=10,
        )


def dockyard_deploy(client: Client) -> float:
    port = free_port()
    application = client.application(port)
    time.sleep(0.5)  # the deployer's read model has the application: what is timed is the deploy
    started = time.perf_counter()
    deployment = client.deploy(application.id)
    wait_http(port)
    elapsed = time.perf_counter() - started
    client.wait_final(deployment.id)
    client.archive(application.id)
    return elapsed


async def sample_running(dsn: str, stop: threading.Event, worst: list[int]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            most = await conn.fetchval(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM deployer.deployments"
                " WHERE status IN ('building', 'deploying') GROUP BY application_id) AS per_application"
            )
            worst[0] = max(worst[0], most)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def drain(client: Client, dsn: str) -> dict:
    applications = [client.application() for _ in range(DRAIN_APPLICATIONS)]
    time.sleep(1.0)
    stop, worst = threading.Event(), [0]
    sampler = threading.Thread(target=lambda: asyncio.run(sample_running(dsn, stop, worst)), daemon=True)
    sampler.start()
    started = time.perf_counter()
    queued = [client.deploy(applications[n % DRAIN_APPLICATIONS].id).id for n in range(DRAIN_DEPLOYMENTS)]
    ended = [client.wait_final(deployment_id, timeout=900) for deployment_id in queued]
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    for application in applications:
        client.archive(application.id)
    reasons: dict[str, int] = {}
    for deployment in ended:
        if deployment.status != "success":
            reason = deployment.metadata["reason"] if "reason" in deployment.metadata else deployment.status
            reasons[reason[:120]] = reasons.get(reason[:120], 0) + 1
    return {
        "seconds": round(elapsed, 1),
        "ended": len(ended),
        "succeeded": sum(d.status == "success" for d in ended),
        "why_not": reasons,
        "most_running_for_one_application": worst[0],
    }


def follow_latency(client: Client) -> dict:
    application = client.application(free_port())
    time.sleep(0.5)
    deployment = client.deploy(application.id)
    request = deployer_pb2.FollowDeploymentLogsRequest(deployment_id=deployment.id)
    delays = []
    for line in client.deployments.FollowDeploymentLogs(request, metadata=client.metadata, timeout=300):
        received = datetime.datetime.now(datetime.UTC)
        delays.append((received - line.created_at.ToDatetime(datetime.UTC)).total_seconds() * 1000)
    client.archive(application.id)
    return {"lines": len(delays), **{key: round(value, 1) for key, value in percentiles(delays).items()}}


def run_platform(concurrency: int):
    os.environ["DOCKYARD_DEPLOY_CONCURRENCY"] = str(concurrency)
    os.environ.setdefault("DOCKYARD_ROLLOUT_MONITOR_SECONDS", "1")
    return platform()


def main() -> None:
    console = Console()
    console.print("[bold]deployer[/bold]: building the busybox image…")
    build_image()
    results: dict = {}
    with run_platform(4) as running, grpc.insecure_channel(running.gateway) as channel:
        client = Client(channel, sign_in_admin(channel))
        ours, theirs = [], []
        for round_ in range(ROUNDS):
            console.print(f"deploy overhead, round {round_ + 1} of {ROUNDS}…")
            theirs.append(docker_alone())
            ours.append(dockyard_deploy(client))
        ratio = statistics.median(ours) / statistics.median(theirs)
        results["deploy_overhead"] = {
            "dockyard_median_s": round(statistics.median(ours), 3),
            "docker_alone_median_s": round(statistics.median(theirs), 3),
            "ratio": round(ratio, 3),
            "target": TARGET_RATIO,
        }
        console.print("log follow latency…")
        results["log_follow_ms"] = follow_latency(client)
        console.print(
            f"draining {DRAIN_DEPLOYMENTS} deployments over {DRAIN_APPLICATIONS} applications (concurrency 4)…"
        )
        results["drain_concurrency_4"] = drain(client, running.admin_dsn())
    with run_platform(8) as running, grpc.insecure_channel(running.gateway) as channel:
        client = Client(channel, sign_in_admin(channel))
        console.print("the same drain at concurrency 8…")
        results["drain_concurrency_8"] = drain(client, running.admin_dsn())
    table = Table(title="deployer")
    for column in ("measure", "result", "target"):
        table.add_column(column)
    overhead = results["deploy_overhead"]
    table.add_row(
        "deploy until HTTP answers (median of 5)",
        f"{overhead['dockyard_median_s']} s vs {overhead['docker_alone_median_s']} s: {overhead['ratio']}x",
        f"<= {TARGET_RATIO}x",
    )
    follow = results["log_follow_ms"]
    table.add_row(
        "log follow, line to client", f"p50 {follow['p50']} ms, p99 {follow['p99']} ms", "p99 < 200 ms"
    )
    for setting in (4, 8):
        drained = results[f"drain_concurrency_{setting}"]
        table.add_row(
            f"drain 100 over 20 apps, concurrency {setting}",
            f"{drained['seconds']} s, {drained['ended']} ended, most running per app {drained['most_running_for_one_application']}",
            "none lost, never 2",
        )
    console.print(table)
    write_results("deploy", results)


if __name__ == "__main__":
    main()
