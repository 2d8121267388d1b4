"""The notifications service: channels of projects and teams (signed webhooks, Slack, Discord,
email over SMTP with TLS) and their delivery log; a durable consumer of projects' and the
deployer's events that turns each deployment outcome into deliveries in the inbox's transaction;
a dispatcher that sends them with retries and backoff under leases; a periodic check that warns
of certificates about to expire; and the delivery log's retention. Its read models of identity
(roles, memberships) and of projects decide who may manage which channel."""

import datetime
import pathlib

import grpc

from dockyard.notifications.v1 import notifications_pb2_grpc
from dockyard_kit.sealing import Sealer
from dockyard_kit.server import ServiceRuntime, ServiceSpec, run
from services.notifications.domain import events
from services.notifications.domain.channels import Channels
from services.notifications.domain.dispatcher import Dispatcher, DispatcherSettings
from services.notifications.domain.expiry import run_expiry_checks
from services.notifications.domain.retention import run_delivery_purges
from services.notifications.domain.retry import RetryPolicy
from services.notifications.domain.senders import Senders
from services.notifications.rpc.channels import ChannelServicer
from services.notifications.settings import NotificationsSettings


class Notifications:
    """What the notifications service's servicer and background jobs share besides the runtime."""

    def __init__(self) -> None:
        self.channels: Channels | None = None
        self.dispatcher: Dispatcher | None = None

    def register(self, server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        settings: NotificationsSettings = runtime.settings
        self.channels = Channels(Sealer("notifications", runtime.key_ring))
        ca_file = settings.DOCKYARD_NOTIFICATIONS_SMTP_CA_FILE
        self.dispatcher = Dispatcher(
            runtime.require_pool,
            Senders(settings.DOCKYARD_NOTIFICATIONS_SEND_TIMEOUT_SECONDS, str(ca_file) if ca_file else None),
            self.channels.open_secrets,
            DispatcherSettings(
                retry=RetryPolicy(
                    base_seconds=settings.DOCKYARD_NOTIFICATIONS_RETRY_BASE_SECONDS,
                    max_seconds=settings.DOCKYARD_NOTIFICATIONS_RETRY_MAX_SECONDS,
                    give_up_seconds=settings.DOCKYARD_NOTIFICATIONS_GIVE_UP_SECONDS,
                ),
                lease_seconds=settings.DOCKYARD_NOTIFICATIONS_LEASE_SECONDS,
                poll_seconds=settings.DOCKYARD_NOTIFICATIONS_POLL_SECONDS,
                concurrency=settings.DOCKYARD_NOTIFICATIONS_CONCURRENCY,
            ),
        )
        notifications_pb2_grpc.add_NotificationChannelServiceServicer_to_server(
            ChannelServicer(runtime, self.channels, self.dispatcher.wake), server
        )

    async def consume_identity(self, runtime: ServiceRuntime) -> None:
        await events.identity_consumer(runtime).run()

    async def consume_events(self, runtime: ServiceRuntime) -> None:
        await events.consumer(runtime, self.dispatcher.wake).run()

    async def dispatch(self, runtime: ServiceRuntime) -> None:
        try:
            await self.dispatcher.run()
        finally:
            await self.dispatcher.senders.close()

    async def check_expiry(self, runtime: ServiceRuntime) -> None:
        await run_expiry_checks(
            runtime.require_pool,
            runtime.settings.DOCKYARD_NOTIFICATIONS_EXPIRY_CHECK_SECONDS,
            self.dispatcher.wake,
        )

    async def purge_deliveries(self, runtime: ServiceRuntime) -> None:
        days = runtime.settings.DOCKYARD_NOTIFICATIONS_DELIVERY_RETENTION_DAYS
        await run_delivery_purges(runtime.require_pool, datetime.timedelta(days=days))


def build_spec(notifications: Notifications) -> ServiceSpec:
    return ServiceSpec(
        name="notifications",
        migrations_dir=pathlib.Path(__file__).parent / "migrations",
        register=notifications.register,
        settings=NotificationsSettings,
        background=[
            notifications.consume_identity,
            notifications.consume_events,
            notifications.dispatch,
            notifications.check_expiry,
            notifications.purge_deliveries,
        ],
    )


if __name__ == "__main__":
    run(build_spec(Notifications()))
