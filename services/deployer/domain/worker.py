"""The deployment pipeline: workers take deployments from the queue (store/deployments.py), build
or fetch the image, roll the Swarm service out, and record how it ended.

A worker holds each deployment by a lease it renews every LEASE_SECONDS / 3; the renewal also
reads whether a cancel was asked. Losing the lease (the process was stalled past it and another
replica took the deployment over) stops the work without recording anything: the deployment is the
other replica's now. A deployment whose worker died (kill -9) is taken over once its lease runs
out, by this process after a restart or by any other replica: a build cannot be resumed (its
process died with the worker), so it ends failed naming the phase; a rollout lives on in Swarm, so
it is watched to its end and recorded as it ended.
"""

import asyncio
import dataclasses
import json
import logging
import os
import pathlib
import posixpath
import shutil
import socket
import threading
import time
import uuid

import asyncpg

from dockyard_kit import docker_config, protoconv
from dockyard_kit.db import transaction
from dockyard_kit.errors import DomainError
from services.deployer.docker import git
from services.deployer.docker.swarm import (
    LABEL_APPLICATION,
    LABEL_DEPLOYMENT,
    ImageInfo,
    ServiceRequest,
    Swarm,
    pushed_tag,
)
from services.deployer.domain import events
from services.deployer.domain.logbook import Logbook
from services.deployer.store import deployments as store
from services.deployer.store import read_model
from services.deployer.store.deploy_specs import DeploySpecs
from services.deployer.store.notifications import CANCEL_CHANNEL, QUEUED_CHANNEL, Notifications

log = logging.getLogger("dockyard.deployer.worker")

# How often an idle worker looks at the queue without a notification.
POLL_SECONDS = 1.0
# Swarm's update states once a rollout has settled.
SETTLED = (None, "completed", "rollback_completed", "paused", "rollback_paused")


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    max_active: int
    lease_seconds: float
    build_timeout: float
    rollout_timeout: float
    monitor_seconds: float
    keep_images: int
    registry: str | None
    workdir: pathlib.Path


@dataclasses.dataclass
class Outcome:
    """How a deployment ended: its status, the event's verb, what to add to its metadata."""

    status: str
    verb: str
    metadata: dict = dataclasses.field(default_factory=dict)
    commit_sha: str | None = None


def failed(reason: str, **metadata) -> Outcome:
    return Outcome("failed", "failed", {"reason": reason, **metadata})


class DeploymentFailed(DomainError):
    """A phase failed (timed out, a rollout Swarm could not finish): the message is the reason."""


@dataclasses.dataclass
class Progress:
    """What a deployment's work has done so far, for cleaning up after a stop."""

    phase: str = "building"
    built_tag: str | None = None
    service_existed: bool = True
    rollout_started: bool = False
    cancelled_by: str | None = None
    lease_lost: bool = False
    # Whether the build reused cached layers (the seed's metadata.build_cache_hit).
    build_cache_hit: bool = False


def worker_name() -> str:
    """Who holds a lease: this process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def built_tag(application_id, deployment_id) -> str:
    return f"dockyard-app-{application_id}:{deployment_id}"


def service_command(command) -> tuple[str, ...] | None:
    """docker_config's command: a list as given, a string through the shell."""
    if command is None or isinstance(command, tuple):
        return command
    return ("sh", "-c", command)


class Pipeline:
    def __init__(
        self,
        pool: asyncpg.Pool,
        swarm: Swarm,
        specs: DeploySpecs,
        notifications: Notifications,
        settings: PipelineSettings,
        owner: str | None = None,
    ) -> None:
        self.pool = pool
        self.swarm = swarm
        self.specs = specs
        self.notifications = notifications
        self.settings = settings
        self.owner = owner or worker_name()
        self._running: dict[uuid.UUID, asyncio.Task] = {}

    async def run(self) -> None:
        """Takes work while there is room, until cancelled (which stops every deployment in hand,
        leaving each to be taken over once its lease runs out)."""
        try:
            with self.notifications.subscribe(QUEUED_CHANNEL) as queued:
                while True:
                    while len(self._running) < self.settings.max_active:
                        claimed = await self._claim()
                        if claimed is None:
                            break
                        row, recovering = claimed
                        if row["id"] in self._running:
                            # Its lease ran out while this process could not renew it (the database
                            # was away), and this very process took it back: it is still at work.
                            continue
                        task = asyncio.create_task(self._execute(row, recovering), name=f"deploy-{row['id']}")
                        self._running[row["id"]] = task
                        task.add_done_callback(lambda _t, key=row["id"]: self._finished(key))
                    await queued.wait(POLL_SECONDS)
        finally:
            for task in self._running.values():
                task.cancel()
            if self._running:
                await asyncio.wait(list(self._running.values()), timeout=5)

    def _finished(self, deployment_id) -> None:
        self._running.pop(deployment_id, None)
        # A slot is free: look at the queue now rather than at the next poll.
        self.notifications.poke(QUEUED_CHANNEL)

    async def _claim(self):
        try:
            async with transaction(self.pool) as conn:
                claimed = await store.claim_next(
                    conn, self.owner, self.settings.lease_seconds, self.settings.max_active
                )
                if claimed is None:
                    return None
                row, recovering = claimed
                if not recovering:
                    await events.deployment_changed(
                        conn, "started", row, await self._application_name(conn, row), actor=_actor(row)
                    )
                return claimed
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot read the deployment queue", extra={"error": str(exc)})
            return None

    @staticmethod
    async def _application_name(conn, row) -> str:
        application = await read_model.application(conn, row["application_id"])
        return application["name"] if application is not None else ""

    async def _execute(self, row, recovering: bool) -> None:
        deployment_id = row["id"]
        progress = Progress(phase=row["status"])
        with Logbook(self.pool, deployment_id) as logbook:
            work = asyncio.create_task(self._work(row, recovering, logbook, progress))
            keeper = asyncio.create_task(self._keep_lease(deployment_id, work, progress))
            try:
                outcome = await work
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    # This process is stopping: the deployment is taken over once its lease runs out.
                    work.cancel()
                    raise
                if progress.lease_lost:
                    return  # the deployment is another worker's now
                outcome = await self._after_cancel(row, logbook, progress)
            except DomainError as exc:
                outcome = await self._after_failure(row, logbook, progress, exc.message)
            except Exception:
                log.exception("deployment failed unexpectedly", extra={"deployment_id": str(deployment_id)})
                outcome = await self._after_failure(row, logbook, progress, "internal error in the deployer")
            finally:
                keeper.cancel()
            if progress.lease_lost:
                return
            logbook.step(_ending_line(outcome), "error" if outcome.status == "failed" else "info")
            await logbook.flush()
            await self._record(row, outcome, logbook)
        if outcome.status == "success":
            await self._prune_images(row["application_id"])

    async def _keep_lease(self, deployment_id, work: asyncio.Task, progress: Progress) -> None:
        every = self.settings.lease_seconds / 3
        with self.notifications.subscribe(CANCEL_CHANNEL, str(deployment_id)) as cancels:
            while True:
                await cancels.wait(every)
                try:
                    async with transaction(self.pool) as conn:
                        lease = await store.renew_lease(
                            conn, deployment_id, self.owner, self.settings.lease_seconds
                        )
                except (OSError, asyncpg.PostgresError) as exc:
                    # The lease holds a while yet; the next renewal may well get through.
                    log.warning("cannot renew a deployment's lease", extra={"error": str(exc)})
                    continue
                if lease is None:
                    progress.lease_lost = True
                    work.cancel()
                    return
                if lease["cancel_requested_at"] is not None and progress.cancelled_by is None:
                    by = lease["cancel_requested_by"]
                    progress.cancelled_by = str(by) if by else ""
                    # Renewals go on: undoing the rollout may outlast a lease, and a lapsed one
                    # would have the deployment taken over as if this worker had died.
                    work.cancel()

    async def _work(self, row, recovering: bool, logbook: Logbook, progress: Progress) -> Outcome:
        if recovering:
            return await self._recover(row, logbook, progress)
        started = time.monotonic()
        application_id = str(row["application_id"])
        logbook.step(f"deployment {row['id']} started by {self.owner} (attempt {row['attempts']})")
        spec = await self.specs.spec(application_id)
        config = docker_config.parse(
            protoconv.integral_numbers(protoconv.dict_from_struct(spec.docker_config)), "docker_config"
        )
        progress.phase = "building"
        try:
            async with asyncio.timeout(self.settings.build_timeout):
                image, commit_sha, built = await self._image(row, spec, config, logbook, progress)
        except TimeoutError:
            raise DeploymentFailed(f"build timed out after {self.settings.build_timeout:g} s") from None
        await self._move(row["id"], "deploying", {"image": image.reference})
        progress.phase = "deploying"
        request = ServiceRequest(
            application_id=application_id,
            project_id=spec.project_id,
            deployment_id=str(row["id"]),
            application_name=spec.application_name,
            image=image.digest or image.reference,
            command=service_command(config.command),
            env=dict(spec.env),
            volumes=tuple((volume.docker_name, volume.mount_path) for volume in spec.volumes),
            replicas=spec.replicas,
            ports=config.ports,
            health_check=config.health_check,
            resources=config.resources,
            stateful=spec.stateful,
            registry_auth=config.registry_auth,
            monitor_seconds=self.settings.monitor_seconds,
        )
        await self.swarm.ensure_network(spec.project_id)
        progress.service_existed = await self.swarm.inspect(application_id) is not None
        logbook.step(f"rolling out {request.image} ({request.replicas} replica(s))")
        progress.rollout_started = True
        try:
            async with asyncio.timeout(self.settings.rollout_timeout):
                rollout = await self.swarm.deploy(request, logbook.from_thread)
        except TimeoutError:
            raise DeploymentFailed(f"rollout timed out after {self.settings.rollout_timeout:g} s") from None
        metadata = {
            "duration_seconds": round(time.monotonic() - started, 3),
            "image": image.reference,
            "image_id": image.image_id,
            "image_size_mb": round(image.size_mb, 1),
            "built": built,
        }
        if built:
            metadata["build_cache_hit"] = progress.build_cache_hit
        if image.digest:
            metadata["image_digest"] = image.digest
        if rollout.outcome == "converged":
            return Outcome("success", "succeeded", metadata, commit_sha)
        if rollout.outcome == "rolled_back":
            logbook.step(
                f"the new version failed its health check; Swarm rolled back: {rollout.detail}", "warn"
            )
            return Outcome("rolled_back", "rolled_back", {**metadata, "reason": rollout.detail}, commit_sha)
        raise DeploymentFailed(f"the rollout failed: {rollout.detail}")

    async def _image(
        self, row, spec, config, logbook: Logbook, progress: Progress
    ) -> tuple[ImageInfo, str | None, bool]:
        """The image to run, the commit it was built from (git sources) and whether it was built."""
        if row["rollback_to"] is not None:
            reference = json.loads(row["metadata"])["image"]
            logbook.step(f"rolling back to deployment {row['rollback_to']}: image {reference}")
            return (
                await self.swarm.ensure_image(
                    reference, "missing", config.registry_auth, logbook.from_thread
                ),
                None,
                False,
            )
        if not spec.HasField("git"):
            if not config.image:
                raise DeploymentFailed("docker_config.image is required to deploy an image application")
            logbook.step(f"image {config.image} (pull: {config.pull})")
            info = await self.swarm.ensure_image(
                config.image, config.pull, config.registry_auth, logbook.from_thread
            )
            return info, None, False
        checkout_dir = self.settings.workdir / str(row["id"])
        shutil.rmtree(checkout_dir, ignore_errors=True)
        try:
            ref = row["git_ref"] or json.loads(row["metadata"]).get("git_ref")
            logbook.step(f"cloning {spec.git.branch if not ref else ref}")
            commit_sha = await git.checkout(
                spec.git.clone_url, ref, spec.git.branch, checkout_dir, logbook.from_thread
            )
            await self._move(row["id"], "building", {}, commit_sha=commit_sha)
            tag = built_tag(row["application_id"], row["id"])
            progress.built_tag = tag
            context = checkout_dir / spec.git.context
            # Both relative to the repository's root (projects refuses ".."); Docker wants the
            # Dockerfile relative to the context.
            dockerfile = posixpath.relpath(spec.git.dockerfile or "Dockerfile", spec.git.context or ".")
            logbook.step(f"building {tag} from commit {commit_sha[:12]}")
            labels = {LABEL_APPLICATION: str(row["application_id"]), LABEL_DEPLOYMENT: str(row["id"])}
            cached = threading.Event()

            def build_line(line: str) -> None:  # from Docker's stream, in a thread
                if "Using cache" in line:
                    cached.set()
                logbook.from_thread(line)

            info = await self.swarm.build(context, dockerfile, tag, build_line, labels=labels)
            progress.build_cache_hit = cached.is_set()
            if self.settings.registry:
                logbook.step(f"pushing to {self.settings.registry}")
                reference = await self.swarm.push(tag, self.settings.registry, logbook.from_thread)
                info = dataclasses.replace(info, digest=reference)
            return info, commit_sha, True
        finally:
            await asyncio.to_thread(shutil.rmtree, checkout_dir, True)

    async def _recover(self, row, logbook: Logbook, progress: Progress) -> Outcome:
        """A deployment taken over from a worker that stopped holding it."""
        phase = row["status"]
        logbook.step(f"taken over by {self.owner} after its worker stopped (during {phase})", "warn")
        application_id = str(row["application_id"])
        if phase == "building":
            # The dead worker's checkout (when it shared this build directory) goes too.
            await asyncio.to_thread(shutil.rmtree, self.settings.workdir / str(row["id"]), True)
            for reference in self._built_references(row["application_id"], row["id"]):
                await self.swarm.remove_image(reference)
            return failed("interrupted during building: the deployer stopped", phase="building")
        service = await self.swarm.inspect(application_id)
        if service is None or service.deployment_id != str(row["id"]):
            return failed("interrupted during deploying, before the rollout reached Swarm", phase="deploying")
        progress.rollout_started = True
        try:
            async with asyncio.timeout(self.settings.rollout_timeout):
                service = await self._settled(application_id, str(row["id"]))
        except TimeoutError:
            raise DeploymentFailed("rollout timed out after the deployer restarted") from None
        metadata = json.loads(row["metadata"])
        kept = {key: metadata[key] for key in ("image",) if key in metadata}
        if service is None:
            return failed("the service went away during the rollout", phase="deploying")
        if service.update_state in (None, "completed"):
            logbook.step("the rollout had converged in Swarm; recorded after the deployer restarted")
            return Outcome("success", "succeeded", {**kept, "resumed": True}, row["commit_sha"])
        if service.update_state == "rollback_completed":
            return Outcome("rolled_back", "rolled_back", {**kept, "reason": "Swarm rolled the update back"})
        raise DeploymentFailed(f"interrupted during deploying (Swarm's update {service.update_state})")

    async def _settled(self, application_id: str, deployment_id: str):
        """The service once Swarm's rollout of it has ended (None if it went away): an update once
        its state settles; a service this deployment created once its tasks all run."""
        while True:
            service = await self.swarm.inspect(application_id)
            if service is None:
                return None
            if service.update_state is None:
                if await self.swarm.running_tasks(application_id, deployment_id) >= service.replicas:
                    return service
            elif service.update_state in SETTLED:
                return service
            await asyncio.sleep(0.5)

    async def _undo_rollout(self, application_id: str, progress: Progress, logbook: Logbook) -> None:
        """Puts the previous version back: Swarm's rollback of the update, or no service at all when
        this deployment created it."""
        if not progress.rollout_started:
            return
        if not progress.service_existed:
            logbook.step("removing the service this deployment created")
            await self.swarm.remove_service(application_id)
            return
        logbook.step("rolling the service back to the previous version")
        await self.swarm.rollback(application_id)

    async def _after_cancel(self, row, logbook: Logbook, progress: Progress) -> Outcome:
        logbook.step(f"cancelled during {progress.phase}", "warn")
        await self._cleanup(row, logbook, progress)
        return Outcome(
            "failed",
            "cancelled",
            {"reason": "cancelled", "phase": progress.phase, "cancelled_by": progress.cancelled_by or ""},
        )

    async def _after_failure(self, row, logbook: Logbook, progress: Progress, reason: str) -> Outcome:
        logbook.line(reason, "error")
        await self._cleanup(row, logbook, progress)
        return failed(reason, phase=progress.phase)

    async def _cleanup(self, row, logbook: Logbook, progress: Progress) -> None:
        """Nothing left behind: the rollout undone, the image built for this deployment removed."""
        try:
            await self._undo_rollout(str(row["application_id"]), progress, logbook)
            if progress.built_tag is not None:
                for reference in self._built_references(row["application_id"], row["id"]):
                    await self.swarm.remove_image(reference)
        except DomainError as exc:
            logbook.line(f"cleaning up: {exc.message}", "warn")

    def _built_references(self, application_id, deployment_id) -> list[str]:
        """What a build of this deployment is called on the engine: its tag, and its pushed tag."""
        tag = built_tag(application_id, deployment_id)
        return [tag, pushed_tag(tag, self.settings.registry)] if self.settings.registry else [tag]

    async def _move(
        self, deployment_id, status: str, metadata: dict, *, commit_sha: str | None = None
    ) -> None:
        async with transaction(self.pool) as conn:
            await store.move(
                conn, deployment_id, status, metadata=metadata, commit_sha=commit_sha, owner=self.owner
            )

    async def _record(self, row, outcome: Outcome, logbook: Logbook) -> None:
        async with transaction(self.pool) as conn:
            ended = await store.move(
                conn,
                row["id"],
                outcome.status,
                metadata=outcome.metadata,
                commit_sha=outcome.commit_sha,
                logs=logbook.summary_text,
                owner=self.owner,
            )
            if ended is None:
                return  # the lease went meanwhile: the deployment is another worker's
            actor = outcome.metadata.get("cancelled_by") or _actor(row)
            await events.deployment_changed(
                conn, outcome.verb, ended, await self._application_name(conn, row), actor=actor
            )

    async def _prune_images(self, application_id) -> None:
        """Images this platform built, beyond the last `keep_images` successful deployments."""
        async with transaction(self.pool) as conn:
            expired = await store.successful(conn, application_id)
            for old in expired[self.settings.keep_images :]:
                metadata = json.loads(old["metadata"])
                if metadata.get("built") and not metadata.get("image_pruned"):
                    # By id: the image with every tag it has (local, pushed, by digest); each
                    # deployment's build is an image of its own (its labels name the deployment).
                    await self.swarm.remove_image(metadata["image_id"])
                    await store.merge_metadata(conn, old["id"], {"image_pruned": True})


def _actor(row) -> str:
    return str(row["triggered_by"]) if row["triggered_by"] else ""


def _ending_line(outcome: Outcome) -> str:
    if outcome.status == "success":
        return "deployment succeeded"
    if outcome.status == "rolled_back":
        return "deployment rolled back"
    return f"deployment failed: {outcome.metadata.get('reason', 'unknown')}"
