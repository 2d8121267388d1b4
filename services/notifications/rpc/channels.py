"""NotificationChannelService: requests to domain calls (ids, enums and field masks checked here,
naming the field), rows to messages (secrets masked, convert.py)."""

from google.protobuf import empty_pb2

from dockyard.notifications.v1 import notifications_pb2 as pb
from dockyard.notifications.v1 import notifications_pb2_grpc
from dockyard_kit import protoconv
from dockyard_kit.errors import InvalidArgument
from dockyard_kit.identity_read_model import ReadModelServicer
from dockyard_kit.server import ServiceRuntime
from services.notifications import convert
from services.notifications.domain.channels import FIELDS, UPDATABLE, ChannelInput, Channels

CONFIG_PATHS = tuple(
    path for kind, fields in FIELDS.items() for path in (kind, *(f"{kind}.{field}" for field in fields))
)


def _events(numbers, field: str = "events") -> list[str]:
    names = []
    for number in numbers:
        name = convert.EVENTS.get(number)
        if name is None or name == "test":
            raise InvalidArgument(
                field, "must each be a deployment event or NOTIFICATION_EVENT_CERTIFICATE_EXPIRING"
            )
        names.append(name)
    return names


def _config_field(config_message, field: str):
    value = getattr(config_message, field)
    if field == "tls":
        return convert.TLS_MODES.get(value, "")
    if field == "to_addresses":
        return list(value)
    return value


def _config(channel: pb.NotificationChannel, kind: str) -> dict:
    message = getattr(channel, kind)
    return {field: _config_field(message, field) for field in FIELDS[kind]}


def _changes(channel: pb.NotificationChannel, paths: set[str]) -> dict:
    changes = {}
    for path in paths:
        if path == "events":
            changes["events"] = _events(channel.events)
        elif path in UPDATABLE:
            changes[path] = getattr(channel, path)
        elif "." in path:
            kind, _, field = path.partition(".")
            changes[path] = _config_field(getattr(channel, kind), field)
        else:
            changes.update({f"{path}.{field}": value for field, value in _config(channel, path).items()})
    return changes


class ChannelServicer(ReadModelServicer, notifications_pb2_grpc.NotificationChannelServiceServicer):
    def __init__(self, runtime: ServiceRuntime, channels: Channels, wake) -> None:
        super().__init__(runtime)
        self.channels = channels
        # Tells this replica's dispatcher that a delivery is due (a test notification).
        self.wake = wake

    async def CreateNotificationChannel(self, request, context):
        channel = request.channel
        kind = convert.KINDS.get(channel.kind)
        if kind is None:
            raise InvalidArgument("kind", "must be CHANNEL_KIND_WEBHOOK, _SLACK, _DISCORD or _EMAIL")
        created = await self.channels.create(
            self.pool,
            await self.caller(),
            ChannelInput(
                project_id=protoconv.optional_id(channel.project_id, "project_id"),
                team_id=protoconv.optional_id(channel.team_id, "team_id"),
                name=channel.name,
                kind=kind,
                config=_config(channel, kind),
                events=_events(channel.events),
                certificate_expiring_within_days=channel.certificate_expiring_within_days,
                enabled=channel.enabled if channel.HasField("enabled") else None,
            ),
        )
        return convert.channel(created)

    async def GetNotificationChannel(self, request, context):
        channel_id = protoconv.parse_id(request.channel_id, "channel_id")
        return convert.channel(await self.channels.get(self.pool, await self.caller(), channel_id))

    async def ListNotificationChannels(self, request, context):
        rows, next_token = await self.channels.list(
            self.pool,
            await self.caller(),
            protoconv.optional_id(request.project_id, "project_id"),
            protoconv.optional_id(request.team_id, "team_id"),
            request.page_size,
            request.page_token,
        )
        return pb.ListNotificationChannelsResponse(
            channels=[convert.channel(row) for row in rows], next_page_token=next_token
        )

    async def UpdateNotificationChannel(self, request, context):
        channel_id = protoconv.parse_id(request.channel.id, "channel.id")
        paths = protoconv.mask_paths(request.update_mask, request.channel, (*UPDATABLE, *CONFIG_PATHS))
        updated = await self.channels.update(
            self.pool, await self.caller(), channel_id, _changes(request.channel, paths)
        )
        return convert.channel(updated)

    async def DeleteNotificationChannel(self, request, context):
        channel_id = protoconv.parse_id(request.channel_id, "channel_id")
        await self.channels.delete(self.pool, await self.caller(), channel_id)
        return empty_pb2.Empty()

    async def SendTestNotification(self, request, context):
        channel_id = protoconv.parse_id(request.channel_id, "channel_id")
        delivery = await self.channels.send_test(self.pool, await self.caller(), channel_id)
        self.wake()
        return convert.delivery(delivery)

    async def ListDeliveries(self, request, context):
        channel_id = protoconv.parse_id(request.channel_id, "channel_id")
        status = ""
        if request.status:
            status = convert.STATUSES.get(request.status)
            if status is None:
                raise InvalidArgument("status", "must be a DeliveryStatus")
        rows, history, next_token = await self.channels.deliveries(
            self.pool, await self.caller(), channel_id, status, request.page_size, request.page_token
        )
        return pb.ListDeliveriesResponse(
            deliveries=[convert.delivery(row, history[row["id"]]) for row in rows], next_page_token=next_token
        )
