"""Applications as Swarm services: one service per application, found by its application label (never
by name), on its project's overlay network, rolled out with Swarm's own health-checked rolling update
and automatic rollback.

Every SDK call runs in a worker thread on the Swarm's client (each request bounded by
CALL_TIMEOUT_SECONDS); builds, pulls and pushes stream on clients of their own (see calls.py).
"""

import asyncio
import dataclasses
import hashlib
import pathlib
import re
import threading
from collections.abc import Callable

import docker
import docker.errors
import docker.types

from dockyard_kit.docker_config import HealthCheck, Port, RegistryAuth, Resources
from dockyard_kit.errors import FailedPrecondition, NotFound
from services.deployer.docker import builds
from services.deployer.docker.calls import engine_unreachable, translated
from services.deployer.engine import DockerEngine

LABEL_APPLICATION = "dockyard.application_id"
LABEL_PROJECT = "dockyard.project_id"
LABEL_DEPLOYMENT = "dockyard.deployment_id"
LABEL_MANAGED = "dockyard.managed"

CALL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.5
MAX_NAME_LENGTH = 63  # a DNS label: services are reached by name on their network
HEALTH_TEST_FORMS = ("CMD", "CMD-SHELL", "NONE")
NANOSECONDS = 1_000_000_000
RESTART_DELAY_SECONDS = 5
MIB = 1024 * 1024
# Task states past running: the task will not run again (Swarm starts a new task instead).
TASK_ENDED = ("complete", "shutdown", "failed", "rejected", "orphaned", "remove")
TASK_FAILED = ("failed", "rejected")

OnLine = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    reference: str
    image_id: str
    digest: str | None  # repository@sha256:... when the image came from (or went to) a registry
    size_mb: float


@dataclasses.dataclass(frozen=True)
class ServiceRequest:
    application_id: str
    project_id: str
    deployment_id: str
    application_name: str  # a DNS label; also the service's alias on the project's network
    image: str
    command: tuple[str, ...] | None  # replaces the image's CMD (its ENTRYPOINT stays)
    env: dict[str, str]
    volumes: tuple[tuple[str, str], ...]  # (docker volume name, mount path)
    replicas: int
    ports: tuple[Port, ...]
    health_check: HealthCheck | None
    resources: Resources
    stateful: bool
    registry_auth: RegistryAuth | None
    monitor_seconds: float = 10.0
    # How long a stopping task gets between SIGTERM and SIGKILL (Docker's default).
    stop_grace_seconds: float = 10.0


@dataclasses.dataclass(frozen=True)
class Rollout:
    outcome: str  # "converged" | "rolled_back" | "failed"
    detail: str


@dataclasses.dataclass(frozen=True)
class ServiceState:
    service_id: str
    application_id: str
    project_id: str
    deployment_id: str
    image: str
    replicas: int
    update_state: str | None  # Swarm's UpdateStatus.State; None before any update
    name: str = ""


def _short_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _dns_label(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def pushed_tag(tag: str, registry: str) -> str:
    """Where push(tag, registry) puts a local image: registry/<its repository>:<its tag>."""
    repository, version = repository_and_tag(tag)
    registry = registry.rstrip("/")
    target = repository if repository.startswith(registry + "/") else f"{registry}/{repository}"
    return f"{target}:{version}"


def service_name(project_id: str, application_name: str) -> str:
    """<application>-<project hash>: readable in `docker service ls`, unique across projects, a valid
    DNS label of at most 63 characters (a long name is cut and keeps a hash of itself)."""
    suffix = "-" + _short_hash(project_id, 10)
    room = MAX_NAME_LENGTH - len(suffix)
    name = _dns_label(application_name) or "app"
    if len(name) > room:
        name = name[: room - 9].rstrip("-") + "-" + _short_hash(application_name, 8)
    return name + suffix


def network_name(project_id: str) -> str:
    return "dockyard-project-" + (_dns_label(project_id)[:40] or _short_hash(project_id, 16))


def manager_problem(info: dict) -> str | None:
    """Why an engine (by its `docker info`) cannot take Swarm services, or None when it can."""
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState") or "inactive"
    if state == "active" and swarm.get("ControlAvailable"):
        return None
    if state == "active":
        return (
            "the Docker Engine is a swarm worker, not a manager: point DOCKER_HOST at a manager, "
            "or promote this node (`docker node promote <node>` on a manager)"
        )
    return (
        f"the Docker Engine is not a swarm manager (swarm state: {state}): run "
        "`docker swarm init --advertise-addr <this host's address>` on it (127.0.0.1 for one machine)"
    )


def _labels(request: ServiceRequest, installation: str) -> dict[str, str]:
    return {
        LABEL_MANAGED: installation,
        LABEL_APPLICATION: request.application_id,
        LABEL_PROJECT: request.project_id,
        LABEL_DEPLOYMENT: request.deployment_id,
    }


def _healthcheck(check: HealthCheck | None) -> docker.types.Healthcheck | None:
    if check is None:
        return None
    test = list(check.test)
    if test[0] not in HEALTH_TEST_FORMS:
        test = ["CMD", *test]

    def ns(seconds: float | None) -> int | None:
        return None if seconds is None else int(seconds * NANOSECONDS)

    return docker.types.Healthcheck(
        test=test,
        interval=ns(check.interval_s),
        timeout=ns(check.timeout_s),
        retries=check.retries,
        start_period=ns(check.start_period_s),
    )


def _endpoint_spec(ports: tuple[Port, ...]) -> dict:
    published = []
    for port in ports:
        entry = {"Protocol": port.protocol, "TargetPort": port.target, "PublishMode": port.mode}
        if port.published is not None:
            entry["PublishedPort"] = port.published
        published.append(entry)
    # An application's name on its project's network: a virtual IP needs the routing mesh (and the
    # kernel's IPVS, which some hosts lack); without ingress ports, DNS answers with the tasks'
    # addresses instead, which every engine can route. Swarm lists a task only once it is healthy.
    mode = "vip" if any(port.mode == "ingress" for port in ports) else "dnsrr"
    return {"Mode": mode, "Ports": published}


def update_order(request: ServiceRequest) -> str:
    """start-first (no gap) unless two tasks cannot run side by side: a host-mode port is bound once per
    node, and a stateful application must not run twice on its data."""
    if request.stateful or any(port.mode == "host" for port in request.ports):
        return "stop-first"
    return "start-first"


def service_spec(request: ServiceRequest, installation: str) -> dict:
    """The keyword arguments of create_service/update_service for request."""
    labels = _labels(request, installation)
    container = docker.types.ContainerSpec(
        image=request.image,
        args=list(request.command) if request.command is not None else None,
        env=dict(request.env),
        labels=labels,
        mounts=[
            docker.types.Mount(target=path, source=volume, type="volume") for volume, path in request.volumes
        ],
        healthcheck=_healthcheck(request.health_check),
        stop_grace_period=int(request.stop_grace_seconds * NANOSECONDS),
    )
    task = docker.types.TaskTemplate(
        container_spec=container,
        resources=docker.types.Resources(
            cpu_limit=int(request.resources.cpus * NANOSECONDS),
            mem_limit=request.resources.memory_mb * MIB,
        ),
        # As the docker CLI does, a failed task is restarted after a pause: without one, a task of a
        # failing update restarted at once takes back a host-mode port that the update's rollback
        # needs, and the rollback waits behind it.
        restart_policy=docker.types.RestartPolicy(
            condition="on-failure", delay=RESTART_DELAY_SECONDS * NANOSECONDS
        ),
        networks=[
            docker.types.NetworkAttachmentConfig(
                target=network_name(request.project_id), aliases=[request.application_name]
            )
        ],
    )
    order = update_order(request)
    monitor = int(request.monitor_seconds * NANOSECONDS)
    return {
        "task_template": task,
        "name": service_name(request.project_id, request.application_name),
        "labels": labels,
        "mode": docker.types.ServiceMode("replicated", replicas=request.replicas),
        "update_config": docker.types.UpdateConfig(
            parallelism=1, failure_action="rollback", monitor=monitor, max_failure_ratio=0, order=order
        ),
        "rollback_config": docker.types.RollbackConfig(
            parallelism=1, failure_action="pause", monitor=monitor, max_failure_ratio=0, order=order
        ),
        "endpoint_spec": _endpoint_spec(request.ports),
    }


def _state(service: dict) -> ServiceState:
    spec = service["Spec"]
    labels = spec.get("Labels") or {}
    return ServiceState(
        service_id=service["ID"],
        application_id=labels.get(LABEL_APPLICATION, ""),
        project_id=labels.get(LABEL_PROJECT, ""),
        deployment_id=labels.get(LABEL_DEPLOYMENT, ""),
        image=spec["TaskTemplate"]["ContainerSpec"]["Image"],
        replicas=(spec.get("Mode", {}).get("Replicated") or {}).get("Replicas", 0),
        update_state=(service.get("UpdateStatus") or {}).get("State"),
        name=spec.get("Name", ""),
    )


def repository_and_tag(reference: str) -> tuple[str, str]:
    """("127.0.0.1:5000/web", "v1") of "127.0.0.1:5000/web:v1" (a registry's port is no tag)."""
    name = reference.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
        return repository, tag
    return name, "latest"


def _task_line(task: dict) -> str:
    status = task.get("Status") or {}
    detail = status.get("Err") or status.get("Message") or ""
    return f"task {task.get('Slot', '?')} ({task['ID'][:12]}): {status.get('State', '?')}" + (
        f" ({detail})" if detail else ""
    )


def _deployment_of(task: dict) -> str:
    spec = task.get("Spec", {}).get("ContainerSpec", {})
    return (spec.get("Labels") or {}).get(LABEL_DEPLOYMENT, "")


class Swarm:
    """The Swarm of one Docker Engine (a manager), given as the deployer's DockerEngine.

    Everything it makes is labelled managed by `installation` (the platform's id, from its database),
    and only what carries that label is its own: two platforms sharing an engine leave each other's
    services and images alone. Until the id is known (`installation` None) it makes and lists nothing."""

    def __init__(self, engine: DockerEngine, installation: str | None = None) -> None:
        self.engine = engine
        self.installation = installation
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        # Networks are created check-then-create; one at a time, so two deploys never make two.
        self._network_lock = asyncio.Lock()

    def _managed(self) -> str:
        if self.installation is None:
            raise RuntimeError("the platform's installation id is not known yet")
        return self.installation

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- calls -------------------------------------------------------------------------------------

    def _api(self) -> docker.APIClient:
        with self._client_lock:
            if self._client is None:
                self._client = self.engine.open_client(CALL_TIMEOUT_SECONDS)
            return self._client.api

    async def _call(self, work: Callable, *args):
        """work(api, *args) in a worker thread, engine failures translated (see calls.translated)."""
        return await asyncio.to_thread(translated, self.engine, lambda: work(self._api(), *args))

    # --- the engine --------------------------------------------------------------------------------

    async def require_manager(self) -> None:
        """FailedPrecondition naming the fix unless the engine is an active swarm manager; Unavailable
        when it does not answer."""
        try:
            info = await asyncio.to_thread(lambda: self._api().info())
        except Exception as error:
            raise engine_unreachable(self.engine, error) from None
        problem = manager_problem(info)
        if problem is not None:
            raise FailedPrecondition(f"{problem} (engine: {self.engine.address})")

    async def ensure_network(self, project_id: str) -> str:
        """The project's attachable overlay network (created once, labelled); its name."""
        name = network_name(project_id)

        def ensure(api: docker.APIClient) -> None:
            # The name filter matches substrings, hence the exact comparison.
            if any(network["Name"] == name for network in api.networks(names=[name])):
                return
            api.create_network(
                name, driver="overlay", attachable=True, check_duplicate=True,
                labels={LABEL_MANAGED: self._managed(), LABEL_PROJECT: project_id},
            )  # fmt: skip

        async with self._network_lock:
            await self._call(ensure)
        return name

    async def remove_network(self, project_id: str) -> None:
        """Removes the project's network; nothing when it is gone. FailedPrecondition while a service
        or container still uses it."""

        def remove(api: docker.APIClient) -> None:
            for network in api.networks(names=[network_name(project_id)]):
                if network["Name"] != network_name(project_id):
                    continue
                try:
                    api.remove_network(network["Id"])
                except docker.errors.NotFound:
                    pass

        await self._call(remove)

    async def managed_network_projects(self) -> list[str]:
        """The projects that have a network of this platform's."""
        networks = await self._call(
            lambda api: api.networks(filters={"label": f"{LABEL_MANAGED}={self._managed()}"})
        )
        return [
            network["Labels"][LABEL_PROJECT]
            for network in networks
            if LABEL_PROJECT in (network["Labels"] or {})
        ]

    # --- images ------------------------------------------------------------------------------------

    async def _image_info(self, reference: str) -> ImageInfo | None:
        def look(api: docker.APIClient) -> dict | None:
            try:
                return api.inspect_image(reference)
            except docker.errors.ImageNotFound:
                return None

        image = await self._call(look)
        if image is None:
            return None
        repository = repository_and_tag(reference)[0]
        digests = image.get("RepoDigests") or []
        digest = next((d for d in digests if d.split("@")[0] == repository), digests[0] if digests else None)
        return ImageInfo(
            reference=reference, image_id=image["Id"], digest=digest, size_mb=round(image["Size"] / MIB, 1)
        )

    async def ensure_image(
        self, reference: str, pull: str, auth: RegistryAuth | None, on_line: OnLine
    ) -> ImageInfo:
        """The image, pulled when asked ("always") or when the engine does not have it ("missing").
        on_line gets pull progress, from a worker thread."""
        if pull == "missing":
            present = await self._image_info(reference)
            if present is not None:
                on_line(f"using the local image {reference} ({present.image_id[:19]})")
                return present
        on_line(f"pulling {reference}")
        await builds.pull(self.engine, reference, auth, on_line)
        info = await self._image_info(reference)
        if info is None:
            raise FailedPrecondition(f"image {reference} was pulled but the engine does not list it")
        return info

    async def build(
        self,
        context_dir: pathlib.Path,
        dockerfile: str,
        tag: str,
        on_line: OnLine,
        labels: dict[str, str] | None = None,
    ) -> ImageInfo:
        """`docker build` of context_dir with dockerfile (a path inside it) as tag. Every output line
        goes to on_line as it comes, from a worker thread. The image is labelled managed (plus labels).
        Cancelling stops the build at once, leaving no build container; a failing build raises
        BuildFailed with its last lines."""
        await builds.build(
            self.engine,
            context_dir,
            dockerfile,
            tag,
            {**(labels or {}), LABEL_MANAGED: self._managed()},
            on_line,
        )
        info = await self._image_info(tag)
        if info is None:
            raise FailedPrecondition(f"the build of {tag} finished but the engine does not list it")
        return info

    async def push(self, tag: str, registry: str, on_line: OnLine) -> str:
        """Tags the local image tag as registry/<its repository>:<its tag> and pushes it; the pullable
        reference registry/<repository>@sha256:... (what every node of a Swarm can pull)."""
        target, version = repository_and_tag(pushed_tag(tag, registry))
        await self._call(lambda api: api.tag(tag, target, version))
        on_line(f"pushing {target}:{version}")
        digest = await builds.push(self.engine, target, version, on_line)
        return f"{target}@{digest}"

    async def remove_image(self, reference: str) -> None:
        """Removes the image (by id: with all its tags; by a tag: that tag); nothing when it is gone or a
        running container uses it. Forced, because Swarm keeps its tasks' stopped containers (task
        history), which would otherwise hold every image a service ever ran."""

        def remove(api: docker.APIClient) -> None:
            try:
                api.remove_image(reference, force=True)
            except docker.errors.APIError as error:
                if error.status_code not in (404, 409):
                    raise

        await self._call(remove)

    async def managed_images(self) -> list[tuple[str, dict]]:
        """(image id, labels) of every image the deployer built."""
        images = await self._call(
            lambda api: api.images(filters={"label": f"{LABEL_MANAGED}={self._managed()}"})
        )
        return [(image["Id"], image.get("Labels") or {}) for image in images]

    # --- services ----------------------------------------------------------------------------------

    async def _find(self, application_id: str) -> dict | None:
        services = await self._call(
            lambda api: api.services(filters={"label": f"{LABEL_APPLICATION}={application_id}"})
        )
        return services[0] if services else None

    async def _tasks(self, service_id: str) -> list[dict]:
        return await self._call(lambda api: api.tasks(filters={"service": service_id}))

    async def running_tasks(self, application_id: str, deployment_id: str) -> int:
        """How many of the application's tasks of that deployment run (healthy, with a health check)."""
        service = await self._find(application_id)
        if service is None:
            return 0
        return self._running(await self._tasks(service["ID"]), deployment_id)

    async def deploy(self, request: ServiceRequest, on_line: OnLine) -> Rollout:
        """Creates the application's service (and its project's network), or updates it to request,
        and waits until the rollout settles (the caller bounds the wait). on_line gets task state changes (from the event loop)."""
        spec = service_spec(request, self._managed())
        await self.ensure_network(request.project_id)
        existing = await self._find(request.application_id)
        if existing is None:
            on_line(f"creating service {spec['name']} ({request.replicas} replicas, image {request.image})")
            created = await self._call(lambda api: api.create_service(**spec))
            return await self._await_create(created["ID"], request, on_line)
        previous_update = (existing.get("UpdateStatus") or {}).get("StartedAt")
        on_line(f"updating service {spec['name']} to image {request.image} ({update_order(request)})")
        await self._call(lambda api: api.update_service(existing["ID"], existing["Version"]["Index"], **spec))
        return await self._await_update(existing["ID"], previous_update, request, on_line)

    async def _watch_tasks(self, service_id: str, seen: dict[str, str], on_line: OnLine) -> list[dict]:
        """The service's tasks; each task's new state (or message) reported once."""
        tasks = await self._tasks(service_id)
        for task in tasks:
            line = _task_line(task)
            if seen.get(task["ID"]) != line:
                seen[task["ID"]] = line
                on_line(line)
        return tasks

    @staticmethod
    def _running(tasks: list[dict], deployment_id: str) -> int:
        return sum(
            1
            for task in tasks
            if _deployment_of(task) == deployment_id
            and task.get("DesiredState") == "running"
            and task["Status"]["State"] == "running"
        )

    async def _await_create(self, service_id: str, request: ServiceRequest, on_line: OnLine) -> Rollout:
        # Swarm reports a task with a health check "starting" until it is healthy, "running" after.
        # Like Swarm's update monitor, every task must then keep running for monitor_seconds: a
        # process that exits at once is "running" for a moment first.
        seen: dict[str, str] = {}
        loop = asyncio.get_running_loop()
        all_running_since: float | None = None
        while True:
            tasks = await self._watch_tasks(service_id, seen, on_line)
            failed = [task for task in tasks if task["Status"]["State"] in TASK_FAILED]
            if failed:
                status = failed[0]["Status"]
                return Rollout("failed", status.get("Err") or status.get("Message") or "a task failed")
            if self._running(tasks, request.deployment_id) < request.replicas:
                all_running_since = None
            elif all_running_since is None:
                all_running_since = loop.time()
            elif loop.time() - all_running_since >= request.monitor_seconds:
                return Rollout("converged", f"{request.replicas} of {request.replicas} tasks running")
            await asyncio.sleep(POLL_SECONDS)

    async def _await_update(
        self, service_id: str, previous_update: str | None, request: ServiceRequest, on_line: OnLine
    ) -> Rollout:
        seen: dict[str, str] = {}
        reasons: list[str] = []  # why Swarm rolled back, and the failed task's error
        reported = None
        while True:
            service = await self._call(lambda api: api.inspect_service(service_id))
            status = service.get("UpdateStatus") or {}
            # An UpdateStatus from before this deploy says nothing about it.
            state = status.get("State") if status.get("StartedAt") != previous_update else None
            message = status.get("Message", "")
            if state is not None and (state, message) != reported:
                reported = (state, message)
                on_line(f"update {state}" + (f": {message}" if message else ""))
            tasks = await self._watch_tasks(service_id, seen, on_line)
            if state == "rollback_started" and message and message not in reasons:
                reasons.insert(0, message)
                for task in tasks:
                    error = task["Status"].get("Err")
                    if _deployment_of(task) == request.deployment_id and error and error not in reasons:
                        reasons.append(error)
            if state == "rollback_completed":
                return Rollout("rolled_back", "; ".join(reasons or [message]))
            if state in ("paused", "rollback_paused"):
                return Rollout("failed", message or f"the update is {state}")
            # No update status yet with every task of this deployment running: a change Swarm applied
            # without a rolling update (from or to 0 replicas).
            settled = state == "completed" or (state is None and request.replicas == 0)
            if settled and self._running(tasks, request.deployment_id) >= request.replicas:
                return Rollout(
                    "converged", message or f"{request.replicas} of {request.replicas} tasks running"
                )
            await asyncio.sleep(POLL_SECONDS)

    async def rollback(self, application_id: str) -> None:
        """Rolls an update in progress back to the previous spec (`docker service rollback`); nothing
        when no update is in progress."""
        service = await self._find(application_id)
        if service is None or (service.get("UpdateStatus") or {}).get("State") not in ("updating", "paused"):
            return

        def roll_back(api: docker.APIClient) -> None:
            # The SDK's update_service has no rollback flag: the same request, as the CLI sends it.
            response = api.post(
                f"{api.base_url}/v{api.api_version}/services/{service['ID']}/update",
                params={"version": service["Version"]["Index"], "rollback": "previous"},
                json=service["Spec"],
            )
            if response.status_code >= 400:
                raise docker.errors.APIError(response.text.strip(), response)

        await self._call(roll_back)

    async def scale(self, application_id: str, replicas: int) -> None:
        """Sets the replica count (0 stops every task) without a new rollout; returns once Swarm has it."""
        service = await self._find(application_id)
        if service is None:
            raise NotFound(f"application {application_id} has no service")
        await self._call(
            lambda api: api.update_service(
                service["ID"], service["Version"]["Index"],
                mode=docker.types.ServiceMode("replicated", replicas=replicas), fetch_current_spec=True,
            )
        )  # fmt: skip

    async def inspect(self, application_id: str) -> ServiceState | None:
        service = await self._find(application_id)
        return None if service is None else _state(service)

    async def remove_service(self, application_id: str) -> None:
        """Removes the application's service (its tasks stop); nothing when there is none."""
        service = await self._find(application_id)
        if service is None:
            return

        def remove(api: docker.APIClient) -> None:
            try:
                api.remove_service(service["ID"])
            except docker.errors.NotFound:
                pass

        await self._call(remove)

    async def managed_services(self) -> list[ServiceState]:
        services = await self._call(
            lambda api: api.services(filters={"label": f"{LABEL_MANAGED}={self._managed()}"})
        )
        return [_state(service) for service in services]
