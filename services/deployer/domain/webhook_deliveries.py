"""A git provider's push delivery, verified and turned into a deployment (or answered with why not).
The rules for each provider's signature and payload: domain/webhooks.py. A delivery's id is the
deployment's idempotency key, so a provider's retry of the same delivery queues once."""

import uuid

import asyncpg

from dockyard_kit.db import transaction
from dockyard_kit.errors import InvalidArgument, NotFound, Unauthenticated, Unavailable
from services.deployer.domain import webhooks
from services.deployer.domain.deployments import queue
from services.deployer.store import read_model
from services.deployer.store.deploy_specs import DeploySpecs

# Who triggered a webhook's deployment: nobody's account ("" becomes NULL).
NO_USER = str(uuid.UUID(int=0))


async def receive(
    pool: asyncpg.Pool, specs: DeploySpecs, provider: str, git_source_id: uuid.UUID, headers, body: bytes
):
    """(the deployment queued, or None; why nothing was queued, or "")."""
    if provider not in webhooks.PROVIDERS:
        raise InvalidArgument("provider", f"must be one of {', '.join(webhooks.PROVIDERS)}")
    if len(body) > webhooks.MAX_WEBHOOK_BYTES:
        webhooks.verify(provider, headers, body, "")  # refuses the size before anything is read
    try:
        target = await specs.webhook_target(str(git_source_id))
    except NotFound:
        # The same answer as a wrong signature: an unknown id tells nobody which ids exist.
        raise Unauthenticated("the delivery is not signed with this git source's webhook secret") from None
    webhooks.verify(provider, headers, body, target.webhook_secret)
    if target.provider != provider:
        raise InvalidArgument("provider", f"the git source is a {target.provider} repository")
    push = webhooks.parse(provider, headers, body)
    reason = webhooks.decide(push, target.branch)
    if not reason and not target.active:
        reason = "the application is archived"
    if reason:
        return None, reason
    async with transaction(pool) as conn:
        application = await read_model.application_with_project(
            conn, uuid.UUID(target.application_id), NO_USER
        )
        if application is None:
            raise Unavailable("the deployer has not heard of this application yet; retry shortly")
        row = await queue(
            conn,
            application,
            triggered_by="",
            request_id=f"webhook:{push.delivery_id}",
            git_ref=push.commit_for(target.branch),
            trigger="webhook",
        )
    return row, ""
