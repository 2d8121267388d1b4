"""A realistic audit trail for the audit benchmark: a world of a few hundred users and a few thousand
resources, and events about them of the contract's catalogued types with their real payloads.

Each event template (a type, the resource it is about, its payload message) is made once. The
entries filled by COPY take the template's filing and details from the trail's own mapping
(services.audit.domain.entries), so they are the rows the trail would write; only the actor, the
time, the address and user agent and the ids vary per row. Ingestion builds full envelopes from the
same templates.
"""

import dataclasses
import datetime
import ipaddress
import json
import random
import uuid

from google.protobuf.message import Message

from dockyard.deployer.v1 import deployer_pb2
from dockyard.deployer.v1 import events_pb2 as deployer_events
from dockyard.events.v1.envelope_pb2 import Event
from dockyard.identity.v1 import events_pb2 as identity_events
from dockyard.identity.v1 import identity_pb2
from dockyard.projects.v1 import events_pb2 as projects_events
from dockyard.projects.v1 import projects_pb2
from dockyard_kit import event_catalog
from dockyard_kit.events.outbox import new_event
from dockyard_kit.interceptors import RequestInfo
from services.audit.domain import entries

FIRST_NAMES = "alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter yara".split()
LAST_NAMES = "martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel garcia".split()
# Words a full-text search finds: applications, databases and domains are named after them.
PRODUCTS = "billing checkout inventory payments search gateway analytics notifications reports catalog shipping auth ledger invoices media".split()
ROLES = "api web worker cron frontend admin".split()
NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("10.20.0.0/16", "192.168.1.0/24", "172.16.8.0/22", "203.0.113.0/24", "198.51.100.0/24")
]
NETWORK_WEIGHTS = [50, 20, 15, 10, 5]
USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "dockyard-cli/1.4.2 (linux; amd64)",
    "curl/8.8.0",
    "grpc-python/1.64.1 grpc-c/41.0.0 (linux; chttp2)",
]
# Sizes of the world.
USERS, TEAMS, PROJECTS = 300, 30, 200
APPLICATIONS, DATABASES, DOMAINS, DEPLOYMENTS = 1500, 400, 600, 2000
# How often each family of events happens, relative to the others.
WEIGHTS = {
    "deployment": 30,
    "application": 20,
    "login": 15,
    "env_var": 8,
    "domain": 5,
    "database": 5,
    "project": 4,
    "team": 3,
    "user": 3,
    "api_token": 3,
    "volume": 2,
    "secret": 2,
}

# The columns COPY fills, in this order; id comes from its sequence, search_vector from the trigger.
COLUMNS = (
    "user_id",
    "username",
    "action",
    "resource_type",
    "resource_id",
    "details",
    "ip_address",
    "user_agent",
    "created_at",
    "project_id",
    "team_id",
    "request_id",
    "event_id",
)


@dataclasses.dataclass(frozen=True)
class Template:
    """One event that can happen many times: its type, the resource the envelope names, its payload."""

    service: str
    resource_type: str
    verb: str
    resource_id: str
    payload: Message
    # Its entry without what varies per row: (action, resource_type, resource_id, details JSON,
    # project_id, team_id), from the trail's own mapping.
    filed: tuple = ()


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    username: str


def _id() -> str:
    return str(uuid.uuid4())


class World:
    """Users, teams, projects and their resources, and the event templates about them by family."""

    def __init__(self, seed: int = 7) -> None:
        rng = self.rng = random.Random(seed)
        self.users = [
            User(_id(), f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{n}") for n in range(USERS)
        ]
        teams = [
            identity_pb2.Team(id=_id(), name=f"team-{p}", description=f"The {p} team") for p in PRODUCTS * 2
        ]
        projects = [
            projects_pb2.Project(
                id=_id(),
                name=f"{rng.choice(PRODUCTS)}-{n}",
                owner_id=rng.choice(self.users).id,
                team_id=rng.choice(teams).id if n % 2 else "",
                description="customer facing services",
            )
            for n in range(PROJECTS)
        ]
        applications = [
            projects_pb2.Application(
                id=_id(),
                project_id=rng.choice(projects).id,
                type="web",
                status="running",
                name=f"{rng.choice(PRODUCTS)}-{rng.choice(ROLES)}-{n}",
                source_type="git",
                replicas=rng.randint(1, 4),
            )
            for n in range(APPLICATIONS)
        ]
        databases = [
            projects_pb2.Database(
                id=_id(),
                project_id=rng.choice(projects).id,
                name=f"{rng.choice(PRODUCTS)}-db-{n}",
                type=rng.choice(["postgresql", "mysql", "redis"]),
                status="running",
                version="16",
            )
            for n in range(DATABASES)
        ]
        domains = [
            projects_pb2.Domain(
                id=_id(),
                project_id=app.project_id,
                target_type="application",
                target_id=app.id,
                domain=f"{app.name}.example.com",
                tls_enabled=True,
                verification_state="verified",
            )
            for app in (rng.choice(applications) for _ in range(DOMAINS))
        ]
        deployments = [
            deployer_pb2.Deployment(
                id=_id(),
                application_id=app.id,
                project_id=app.project_id,
                triggered_by=rng.choice(self.users).id,
                status="success",
                commit_sha=f"{rng.getrandbits(160):040x}",
            )
            for app in (rng.choice(applications) for _ in range(DEPLOYMENTS))
        ]
        names = {app.id: app.name for app in applications}
        pick = rng.choice
        families: dict[str, list[Template]] = {
            "deployment": [
                Template(
                    "deployer",
                    "deployment",
                    verb,
                    d.id,
                    deployer_events.DeploymentChanged(deployment=d, application_name=names[d.application_id]),
                )
                for d in deployments
                for verb in ("queued", "started", "succeeded", "failed")
            ],
            "application": [
                Template(
                    "projects", "application", verb, a.id, projects_events.ApplicationChanged(application=a)
                )
                for a in applications
                for verb in ("created", "updated", "scaled", "status_changed")
            ],
            "login": [
                Template(
                    "identity",
                    "auth",
                    verb,
                    u.id,
                    identity_events.LoginAttempted(
                        user_id=u.id, reason="" if verb == "login_succeeded" else "invalid password"
                    ),
                )
                for u in self.users
                for verb in ("login_succeeded", "login_failed")
            ],
            "env_var": [
                Template(
                    "projects",
                    "env_var",
                    verb,
                    (
                        var := projects_pb2.EnvVar(
                            id=_id(),
                            application_id=a.id,
                            key=pick(["DATABASE_URL", "LOG_LEVEL", "STRIPE_KEY", "FEATURE_FLAGS"]),
                            is_secret=True,
                        )
                    ).id,
                    projects_events.EnvVarChanged(env_var=var, project_id=a.project_id),
                )
                for a in applications[:800]
                for verb in ("created", "updated")
            ],
            "domain": [
                Template("projects", "domain", verb, d.id, projects_events.DomainChanged(domain=d))
                for d in domains
                for verb in ("created", "verified", "updated")
            ],
            "database": [
                Template("projects", "database", verb, d.id, projects_events.DatabaseChanged(database=d))
                for d in databases
                for verb in ("created", "updated")
            ],
            "project": [
                Template("projects", "project", verb, p.id, projects_events.ProjectChanged(project=p))
                for p in projects
                for verb in ("created", "updated")
            ],
            "team": [
                Template(
                    "identity",
                    "team_member",
                    "added",
                    t.id,
                    identity_events.TeamMemberChanged(
                        member=identity_pb2.TeamMember(
                            id=_id(),
                            team_id=t.id,
                            user_id=(u := pick(self.users)).id,
                            role="member",
                            username=u.username,
                        )
                    ),
                )
                for t in teams
                for _ in range(10)
            ]
            + [
                Template("identity", "team", "updated", t.id, identity_events.TeamChanged(team=t))
                for t in teams
            ],
            "user": [
                Template(
                    "identity",
                    "user",
                    verb,
                    u.id,
                    identity_events.UserChanged(
                        user=identity_pb2.User(
                            id=u.id,
                            username=u.username,
                            email=f"{u.username}@example.com",
                            # A platform role identity can give (the read models' check refuses others).
                            role="developer",
                        )
                    ),
                )
                for u in self.users
                for verb in ("updated", "role_changed")
            ],
            "api_token": [
                Template(
                    "identity",
                    "api_token",
                    "created",
                    (
                        token := identity_pb2.ApiToken(
                            id=_id(), name=f"ci-{pick(PRODUCTS)}", scope="read_write", prefix="dk_"
                        )
                    ).id,
                    identity_events.ApiTokenChanged(token=token, user_id=u.id),
                )
                for u in self.users
            ],
            "volume": [
                Template(
                    "projects",
                    "volume",
                    "created",
                    (
                        volume := projects_pb2.Volume(
                            id=_id(),
                            project_id=a.project_id,
                            application_id=a.id,
                            name=f"{a.name}-data",
                            mount_path="/var/lib/data",
                            size_gb=10,
                        )
                    ).id,
                    projects_events.VolumeChanged(volume=volume),
                )
                for a in applications[:300]
            ],
            "secret": [
                Template(
                    "projects",
                    "secret",
                    "revealed",
                    d.id,
                    projects_events.SecretRevealed(
                        project_id=d.project_id,
                        resource_type="database",
                        resource_id=d.id,
                        what="connection_string",
                    ),
                )
                for d in databases
            ],
        }
        self.families = {name: [self._filed(t) for t in templates] for name, templates in families.items()}
        self._names = list(WEIGHTS)
        self._weights = list(WEIGHTS.values())

    @staticmethod
    def _filed(template: Template) -> Template:
        event = build_event(template, User("", ""), datetime.datetime.now(datetime.UTC), "")
        payload = entries.payload_of(event)
        entry = entries.entry(event, payload, entries.filing(event, payload))
        filed = (
            entry.action,
            entry.resource_type,
            entry.resource_id,
            json.dumps(entry.details),
            entry.project_id,
            entry.team_id,
        )
        return dataclasses.replace(template, filed=filed)

    def templates(self, count: int) -> list[Template]:
        names = self.rng.choices(self._names, self._weights, k=count)
        return [self.rng.choice(self.families[name]) for name in names]

    def address(self) -> ipaddress.IPv4Address:
        network = self.rng.choices(NETWORKS, NETWORK_WEIGHTS)[0]
        return network[self.rng.randrange(1, network.num_addresses - 1)]

    def rows(self, count: int, since: datetime.datetime, until: datetime.datetime) -> list[tuple]:
        """`count` entries in COLUMNS order, at random times in [since, until)."""
        span = (until - since).total_seconds()
        rng = self.rng
        out = []
        for template in self.templates(count):
            action, resource_type, resource_id, details, project_id, team_id = template.filed
            actor = rng.choice(self.users)
            out.append(
                (
                    uuid.UUID(actor.id),
                    actor.username,
                    action,
                    resource_type,
                    resource_id,
                    details,
                    self.address(),
                    rng.choice(USER_AGENTS),
                    since + datetime.timedelta(seconds=rng.random() * span),
                    project_id,
                    team_id,
                    f"req-{rng.getrandbits(64):016x}",
                    uuid.uuid4(),
                )
            )
        return out

    def events(self, count: int) -> list[Event]:
        """`count` envelopes of the catalogued types, each with its real payload, happening now."""
        now = datetime.datetime.now(datetime.UTC)
        return [
            build_event(t, self.rng.choice(self.users), now, str(self.address()))
            for t in self.templates(count)
        ]


def build_event(template: Template, actor: User, occurred_at: datetime.datetime, client_ip: str) -> Event:
    request = RequestInfo(
        request_id=_id(), method="/bench", client_ip=client_ip, user_agent=USER_AGENTS[0] if client_ip else ""
    )
    event = new_event(
        template.service,
        template.resource_type,
        template.verb,
        template.resource_id,
        template.payload,
        actor_user_id=actor.id,
        request=request,
        occurred_at=occurred_at,
    )
    event_catalog.check(event.type, template.payload.DESCRIPTOR.full_name)
    if template.resource_type == "auth":
        event.resource_type = "user"  # as identity files its sign-ins (EventEmitter's filed_under)
    return event
