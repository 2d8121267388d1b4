"""Git sources: an application's repository (one per application, and only for git applications).
The webhook secret is sealed at rest (dockyard_kit/sealing.py) and shown only once: in the response of
the create that generated or received it."""

import re
import secrets
import uuid

import asyncpg

from dockyard.projects.v1 import events_pb2
from dockyard_kit.auth import Caller
from dockyard_kit.db import SessionPool
from dockyard_kit.errors import FailedPrecondition, InvalidArgument, NotFound
from dockyard_kit.project_access import Level
from dockyard_kit.sealing import Sealer
from services.projects import convert
from services.projects.domain import events
from services.projects.domain.applications import SOURCE_TYPES, authorize_application
from services.projects.store import git_sources as store
from services.projects.store.session import caller_reads, caller_transaction

UPDATABLE_FIELDS = ("provider", "repository", "branch", "commit_sha", "webhook_config", "webhook_secret")
PROVIDERS = SOURCE_TYPES["git"]
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
MIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 16, 255


def not_found(application_id: uuid.UUID) -> NotFound:
    return NotFound(f"application {application_id} has no git source")


def validate(field: str, value):
    """A git source's field, checked; returns the value to store."""
    if field == "provider" and value not in PROVIDERS:
        raise InvalidArgument("provider", f"must be one of {', '.join(PROVIDERS)}")
    if field == "repository" and (len(value) > 500 or not _REPOSITORY.fullmatch(value)):
        raise InvalidArgument(
            "repository", "must be a repository path such as owner/name (up to 500 characters)"
        )
    if field == "branch" and not 1 <= len(value) <= 255:
        raise InvalidArgument("branch", "must be 1-255 characters")
    if field == "commit_sha":
        if value and not _COMMIT_SHA.fullmatch(value):
            raise InvalidArgument("commit_sha", "must be 40 lower-case hexadecimal characters, or empty")
        return value or None
    if field == "webhook_config" and any(key.lower() in ("secret", "webhook_secret") for key in value):
        raise InvalidArgument("webhook_config", "must not hold the secret; set webhook_secret instead")
    if field == "webhook_secret" and not MIN_SECRET_LENGTH <= len(value) <= MAX_SECRET_LENGTH:
        raise InvalidArgument(
            "webhook_secret", f"must be {MIN_SECRET_LENGTH}-{MAX_SECRET_LENGTH} characters (or left empty)"
        )
    return value


async def _emit(conn: asyncpg.Connection, action: str, row, project_id, *, actor: str) -> None:
    """git_source.<action> for `row`; the event names the project, which the row does not hold."""
    event = events_pb2.GitSourceChanged(git_source=convert.git_source(row), project_id=str(project_id))
    await events.emit(conn, "git_source", action, row["id"], event, actor=actor)


async def _git_application(conn: asyncpg.Connection, caller: Caller, application_id: uuid.UUID):
    """The live git application a git-source write is for, once the caller may write to it."""
    application = await authorize_application(conn, caller, application_id, Level.WRITE, live=True, lock=True)
    if application["type"] != "git":
        raise FailedPrecondition(
            f"application {application_id} is a {application['type']} application; only git applications"
            " have a git source"
        )
    return application


async def create_git_source(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, application_id: uuid.UUID, fields: dict
) -> tuple[asyncpg.Record, str]:
    """The new git source and its webhook secret in plaintext (generated unless given). `fields`
    holds every one of UPDATABLE_FIELDS (empty strings for those left unset)."""
    checked = {
        field: validate(field, (fields[field] or "main") if field == "branch" else fields[field])
        for field in UPDATABLE_FIELDS
        if field != "webhook_secret"
    }
    webhook_secret = validate("webhook_secret", fields["webhook_secret"] or secrets.token_urlsafe(32))
    source_id = uuid.uuid4()
    async with caller_transaction(pool, caller) as conn:
        application = await _git_application(conn, caller, application_id)
        row = await store.insert(
            conn,
            id=source_id,
            application_id=application_id,
            webhook_secret=sealer.seal("git_sources", "webhook_secret", source_id, webhook_secret),
            **checked,
        )
        await _emit(conn, "created", row, application["project_id"], actor=caller.user_id)
    return row, webhook_secret


async def get_git_source(pool: SessionPool, caller: Caller, application_id: uuid.UUID) -> asyncpg.Record:
    async with caller_reads(pool, caller) as conn:
        await authorize_application(conn, caller, application_id, Level.READ)
        row = await store.fetch(conn, application_id)
    if row is None:
        raise not_found(application_id)
    return row


async def update_git_source(
    pool: asyncpg.Pool, sealer: Sealer, caller: Caller, application_id: uuid.UUID, changes: dict
) -> asyncpg.Record:
    checked = {field: validate(field, value) for field, value in changes.items()}
    async with caller_transaction(pool, caller) as conn:
        application = await _git_application(conn, caller, application_id)
        current = await store.fetch(conn, application_id)
        if current is None:
            raise not_found(application_id)
        if "webhook_secret" in checked:
            checked["webhook_secret"] = sealer.seal(
                "git_sources", "webhook_secret", current["id"], checked["webhook_secret"]
            )
        row = await store.update(conn, application_id, checked)
        await _emit(conn, "updated", row, application["project_id"], actor=caller.user_id)
    return row


async def record_deployed_commit(
    conn: asyncpg.Connection, application_id: uuid.UUID, project_id: str, commit_sha: str, *, actor: str
) -> None:
    """The git source's commit_sha: the latest deployed commit (from the deployer's events), inside
    the caller's transaction. Nothing when the application has no git source or it is that commit."""
    current = await store.fetch(conn, application_id)
    if current is None or current["commit_sha"] == commit_sha:
        return
    row = await store.update(conn, application_id, {"commit_sha": commit_sha})
    await _emit(conn, "updated", row, project_id, actor=actor)


async def delete_git_source(pool: asyncpg.Pool, caller: Caller, application_id: uuid.UUID) -> None:
    async with caller_transaction(pool, caller) as conn:
        application = await authorize_application(
            conn, caller, application_id, Level.WRITE, live=True, lock=True
        )
        row = await store.delete(conn, application_id)
        if row is None:
            raise not_found(application_id)
        await _emit(conn, "deleted", row, application["project_id"], actor=caller.user_id)
