"""What the deployer's tests share beyond tests/support/deployments.py: git repositories and
applications built from them, stored logs, build containers and images, the Swarm service of an
application, and a deployment run by a replica of its own."""

import contextlib
import io
import os
import pathlib
import signal
import subprocess
import uuid

import docker.errors
import grpc

from dockyard.deployer.v1 import deployer_pb2, deployer_pb2_grpc
from dockyard_kit.stack.components import free_port
from services.deployer.docker.swarm import LABEL_APPLICATION
from tests.docker_support import TEST_LABELS
from tests.support.replicas import service_replica, stack_service_pid
from tests.support.resources import call, new_app, sql
from tests.support.waiting import eventually

GIT_AUTHOR = ("-c", "user.name=Dockyard Tests", "-c", "user.email=tests@dockyard.invalid")


def _git(*args: str, cwd: pathlib.Path | None = None) -> str:
    done = subprocess.run(["git", *GIT_AUTHOR, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def git_repository(root: pathlib.Path, files: dict[str, str]) -> tuple[str, str]:
    """A bare repository under `root` whose branch main holds one commit of `files`: its file:// URL
    and the commit's sha."""
    bare, work = root / "repository.git", root / "work"
    _git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    _git("init", "--quiet", "--initial-branch=main", str(work))
    for name, text in files.items():
        (work / name).write_text(text)
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "the web page", cwd=work)
    _git("push", "--quiet", str(bare), "main", cwd=work)
    return bare.as_uri(), _git("rev-parse", "HEAD", cwd=work)


def web_dockerfile(base_image: str, content: str, marker: str, build_seconds: int = 0) -> str:
    """busybox httpd serving `content` on 8080; the build prints `marker` (which also keeps the
    build cache from answering for another test's image) and lasts at least `build_seconds`."""
    pause = f" && sleep {build_seconds}" if build_seconds else ""
    return (
        f"FROM {base_image}\n"
        f"RUN echo building {marker} && mkdir -p /www && echo {content} > /www/index.html{pause}\n"
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
    )


def web_repository(tmp_path, busybox_image, content: str, build_seconds: int = 0) -> tuple[str, str, str]:
    """A repository of a web page's Dockerfile: (file:// URL, its commit, the build's marker)."""
    marker = uuid.uuid4().hex
    files = {"Dockerfile": web_dockerfile(busybox_image, content, marker, build_seconds)}
    url, sha = git_repository(tmp_path, files)
    return url, sha, marker


def stored_logs(stack, account, deployment_id: str) -> list[dict]:
    """Every stored line of the deployment (ListDeploymentLogs, page by page)."""
    lines, token = [], ""
    while True:
        path = f"/v1/deployments/{deployment_id}/logs?page_size=100&page_token={token}"
        status, body = call(stack, account, "GET", path)
        assert status == 200, body
        lines += body["lines"]
        token = body["next_page_token"]
        if not token:
            return lines


def deployments_of(stack, account, application_id: str) -> list[dict]:
    status, body = call(stack, account, "GET", f"/v1/applications/{application_id}/deployments")
    assert status == 200, body
    return body["deployments"]


def git_app(stack, account, project_id: str, repository_url: str, *, provider: str = "github", secret: str):
    """A git application cloning `repository_url`, with a git source following main signed with
    `secret`: (application, git source, host port)."""
    port = free_port()
    app = new_app(
        stack,
        account,
        project_id,
        type="git",
        source_type=provider,
        source_config={"repository_url": repository_url},
        docker_config={"ports": [{"target": 8080, "published": port, "mode": "host"}]},
    )
    status, source = call(
        stack,
        account,
        "POST",
        f"/v1/applications/{app['id']}/git-source",
        {"provider": provider, "repository": "tests/web", "branch": "main", "webhook_secret": secret},
    )
    assert status == 200, source
    return app, source, port


def remove_built_images(docker_client, application_ids) -> None:
    """The images the platform built for these applications (tagged per deployment), once the
    containers of their removed services are gone (Swarm stops them a little later)."""

    def removed(image_id: str) -> bool:
        try:
            docker_client.images.remove(image_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if error.status_code != 409:  # 409: a container still uses it
                raise
            return False
        return True

    for application_id in application_ids:
        for image in docker_client.api.images(filters={"label": f"{LABEL_APPLICATION}={application_id}"}):
            eventually(lambda image_id=image["Id"]: removed(image_id), timeout=30, interval=0.5)


def content_image(docker_client, base_image: str, content: str) -> str:
    """A local image from `base_image` whose /www/index.html says `content`: a rollback deploys an
    earlier deployment's image (its command is the application's current one), so what a version
    serves must be in its image to tell versions apart after one."""
    tag = f"dockyard-test/content:{content}"
    dockerfile = f"FROM {base_image}\nRUN mkdir -p /www && echo {content} > /www/index.html\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, labels=TEST_LABELS)
    return tag


def application_service(docker_client, application_id: str):
    """The application's Swarm service (found by its label, as the deployer finds it), or None."""
    services = docker_client.services.list(filters={"label": f"{LABEL_APPLICATION}={application_id}"})
    return services[0] if services else None


def push_commit(root: pathlib.Path, files: dict[str, str]) -> str:
    """Another commit of `files` on main in git_repository(root, ...)'s repository: its sha."""
    work = root / "work"
    for name, text in files.items():
        (work / name).write_text(text)
    _git("commit", "--quiet", "--all", "-m", "a new version", cwd=work)
    _git("push", "--quiet", str(root / "repository.git"), "main", cwd=work)
    return _git("rev-parse", "HEAD", cwd=work)


def log_messages(stack, deployment_id: str) -> list[str]:
    """The deployment's stored lines, read from the database (the stack's deployer, which answers
    the API, is paused while they are looked at)."""
    rows = sql(
        stack,
        "deployer",
        "SELECT message FROM deployment_logs WHERE deployment_id = $1 ORDER BY id",
        uuid.UUID(deployment_id),
    )
    return [row["message"] for row in rows]


def build_containers(docker_client, marker: str) -> list[str]:
    """Ids of the containers of the build whose RUN step prints `marker` (the classic builder runs
    each step in a container of its own, with the step's command and no label of the deployment's);
    read in one call, as containers come and go meanwhile."""
    return [
        container["Id"]
        for container in docker_client.api.containers(all=True)
        if marker in (container.get("Command") or "")
    ]


def image_tags(docker_client, name: str | None = None) -> list[str]:
    """Every tag on the engine (of images called `name`), read in one call: listing image objects
    inspects each image afterwards, which fails when the platform removes one meanwhile."""
    return [tag for image in docker_client.api.images(name=name) for tag in image.get("RepoTags") or ()]


@contextlib.contextmanager
def deployment_by_a_replica(stack, account, application_id: str, **settings: str):
    """(a second deployer replica, the deployment it took): the stack stops as a whole when one of
    its services dies, so crash tests kill a replica. The stack's own deployer is paused (SIGSTOP)
    until the block ends, so that the replica claims the deployment asked of it."""
    with service_replica(stack, "deployer", **settings) as replica:
        own_deployer = stack_service_pid(stack, "deployer")
        os.kill(own_deployer, signal.SIGSTOP)
        try:
            with grpc.insecure_channel(replica.address) as channel:
                deployment = deployer_pb2_grpc.DeploymentServiceStub(channel).CreateDeployment(
                    deployer_pb2.CreateDeploymentRequest(application_id=application_id),
                    metadata=account.metadata,
                    timeout=30,
                )
            yield replica, deployment
        finally:
            os.kill(own_deployer, signal.SIGCONT)
