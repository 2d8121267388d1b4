"""What an event becomes in the trail: the entry's resource (one of the seed's types), the project
and team it belongs to, and its details. Pure: one rule per payload message of the contract's
catalogue (dockyard_kit/event_catalog.py), so an event type that has no rule is found by a test, not
by a user missing entries.

Events about things the seed's enum does not name are filed under the resource they belong to:
sign-ins, sessions and API tokens under their user; memberships and invitations under their team;
git sources and env vars under their application; volumes under what mounts them; certificates
under their domain. `action` keeps the event's full type, so nothing is lost by the mapping.
"""

import dataclasses
import datetime
import ipaddress
import uuid
from collections.abc import Callable

from google.protobuf import json_format
from google.protobuf.message import Message

from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard_kit import event_catalog

RESOURCE_TYPES = ("user", "team", "project", "application", "database", "deployment", "domain")


@dataclasses.dataclass(frozen=True)
class Filing:
    """Where an event is filed: the seed's resource type and id, and what it belongs to."""

    resource_type: str
    resource_id: str = ""
    project_id: str = ""
    team_id: str = ""
    # Secrets revealed name the revealed thing by its own id; the trail files it under the resource
    # that holds it, which only the read model of resources knows (trail.py looks it up).
    holder_of: str = ""


@dataclasses.dataclass(frozen=True)
class Entry:
    event_id: uuid.UUID
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    project_id: uuid.UUID | None
    team_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    details: dict
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    created_at: datetime.datetime


def _volume(volume) -> Filing:
    if volume.application_id:
        return Filing("application", volume.application_id, volume.project_id)
    if volume.database_id:
        return Filing("database", volume.database_id, volume.project_id)
    return Filing("project", volume.project_id, volume.project_id)


def _secret(revealed) -> Filing:
    if revealed.resource_type == "database":
        return Filing("database", revealed.resource_id, revealed.project_id)
    return Filing("project", revealed.project_id, revealed.project_id, holder_of=revealed.resource_id)


# payload message -> (envelope, payload) -> Filing
RULES: dict[type[Message], Callable[[Event, Message], Filing]] = {
    identity_events.UserChanged: lambda e, p: Filing("user", e.resource_id),
    identity_events.UserSessionsRevoked: lambda e, p: Filing("user", e.resource_id),
    identity_events.LoginAttempted: lambda e, p: Filing("user", p.user_id),
    identity_events.ApiTokenChanged: lambda e, p: Filing("user", p.user_id),
    identity_events.SessionRevoked: lambda e, p: Filing("user", p.user_id),
    identity_events.TeamChanged: lambda e, p: Filing("team", e.resource_id, team_id=e.resource_id),
    identity_events.TeamMemberChanged: lambda e, p: Filing(
        "team", p.member.team_id, team_id=p.member.team_id
    ),
    identity_events.TeamInvitationChanged: lambda e, p: Filing(
        "team", p.invitation.team_id, team_id=p.invitation.team_id
    ),
    projects_events.ProjectChanged: lambda e, p: Filing(
        "project", e.resource_id, e.resource_id, team_id=p.project.team_id
    ),
    projects_events.ApplicationChanged: lambda e, p: Filing(
        "application", e.resource_id, p.application.project_id
    ),
    projects_events.GitSourceChanged: lambda e, p: Filing(
        "application", p.git_source.application_id, p.project_id
    ),
    projects_events.EnvVarChanged: lambda e, p: Filing("application", p.env_var.application_id, p.project_id),
    projects_events.VolumeChanged: lambda e, p: _volume(p.volume),
    projects_events.DomainChanged: lambda e, p: Filing("domain", e.resource_id, p.domain.project_id),
    projects_events.CertificateChanged: lambda e, p: Filing(
        "domain", p.certificate.domain_id, p.certificate.project_id
    ),
    projects_events.DatabaseChanged: lambda e, p: Filing("database", e.resource_id, p.database.project_id),
    projects_events.SecretRevealed: lambda e, p: _secret(p),
    deployer_events.DeploymentChanged: lambda e, p: Filing(
        "deployment", e.resource_id, p.deployment.project_id
    ),
    deployer_events.ApplicationScaled: lambda e, p: Filing("application", p.application_id, p.project_id),
}
_BY_NAME = {message.DESCRIPTOR.full_name: (message, rule) for message, rule in RULES.items()}


class UnknownEvent(ValueError):
    """An event whose type or payload the contract's catalogue does not list."""


def payload_of(event: Event) -> Message:
    descriptor = event_catalog.payloads().get(event.type)
    if descriptor is None:
        raise UnknownEvent(f"event type {event.type!r} is not in the contract")
    message_class, _ = _BY_NAME[descriptor.full_name]
    payload = message_class()
    if not event.payload.Unpack(payload):
        raise UnknownEvent(f"event {event.type} does not carry {descriptor.full_name}")
    return payload


def filing(event: Event, payload: Message) -> Filing:
    _, rule = _BY_NAME[payload.DESCRIPTOR.full_name]
    return rule(event, payload)


def uuid_or_none(value: str) -> uuid.UUID | None:
    """An id the envelope or payload carries; "" and anything not a UUID (a sign-in that named no
    account) are no id."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _address(client_ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(client_ip)) if client_ip else None
    except ValueError:
        return None


def entry(event: Event, payload: Message, filed: Filing) -> Entry:
    request = event.request
    return Entry(
        event_id=uuid.UUID(event.id),
        action=event.type,
        resource_type=filed.resource_type,
        resource_id=uuid_or_none(filed.resource_id),
        project_id=uuid_or_none(filed.project_id),
        team_id=uuid_or_none(filed.team_id),
        actor_id=uuid_or_none(event.actor_user_id),
        details=json_format.MessageToDict(payload, preserving_proto_field_name=True),
        ip_address=_address(request.client_ip),
        user_agent=request.user_agent or None,
        request_id=request.request_id or None,
        created_at=event.occurred_at.ToDatetime(tzinfo=datetime.UTC)
        if event.HasField("occurred_at")
        else datetime.datetime.now(datetime.UTC),
    )
