"""Who may do what to an application's deployments: exactly projects' rules, from the same code
(dockyard_kit.project_access), applied to the deployer's read model of projects and memberships.
Deploying, cancelling and rolling back need WRITE; reading deployments and logs needs READ; below
READ the application and its deployments do not exist for the caller (NOT_FOUND)."""

import asyncio
import time
import uuid

import asyncpg

from dockyard_kit.auth import Caller
from dockyard_kit.errors import NotFound
from dockyard_kit.project_access import Level, check
from services.deployer.store import deployments as deployment_store
from services.deployer.store import read_model


def application_not_found(application_id: uuid.UUID) -> NotFound:
    return NotFound(f"application {application_id} not found")


def deployment_not_found(deployment_id: uuid.UUID) -> NotFound:
    return NotFound(f"deployment {deployment_id} not found")


# An application created a moment ago reaches the deployer's read model by projects' events, within
# milliseconds as a rule: a deploy asked right after creating one waits this long for it.
NEW_APPLICATION_WAIT_SECONDS = 3.0


async def authorize_application(
    conn: asyncpg.Connection,
    caller: Caller,
    application_id: uuid.UUID,
    needed: Level,
    *,
    action: str,
    wait_for_new: bool = False,
):
    """The application (with its project's owner, team and the caller's team role) once the
    caller holds `needed` on its project. `wait_for_new`: an application not heard of yet is waited
    for a moment (it may have just been created)."""
    not_found = application_not_found(application_id)
    application = await read_model.application_with_project(conn, application_id, caller.user_id)
    deadline = time.monotonic() + NEW_APPLICATION_WAIT_SECONDS
    while application is None and wait_for_new and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        application = await read_model.application_with_project(conn, application_id, caller.user_id)
    if application is None:
        raise not_found
    check(caller, application, needed, not_found, action=action)
    return application


async def authorize_deployment(
    conn: asyncpg.Connection,
    caller: Caller,
    deployment_id: uuid.UUID,
    needed: Level,
    *,
    action: str,
    lock=False,
):
    """The deployment and its application, once the caller holds `needed` on the project."""
    not_found = deployment_not_found(deployment_id)
    deployment = await deployment_store.fetch(conn, deployment_id, lock=lock)
    if deployment is None:
        raise not_found
    application = await read_model.application_with_project(
        conn, deployment["application_id"], caller.user_id
    )
    if application is None:
        raise not_found
    check(caller, application, needed, not_found, action=action)
    return deployment, application
