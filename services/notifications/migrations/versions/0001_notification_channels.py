"""notifications: channels, their deliveries and each delivery's attempts, and the read models the
service decides access and matches events from.

channels belong to exactly one project or one team (check_channel_owner); neither id is a foreign
key (they live in other services' schemas): a project's or a team's deletion, applied from its
event, deletes its channels. `config` holds the kind's settings that are not secret (SMTP host,
port, TLS mode, user name, addresses, and a masked hint of the URL); `secrets` holds the kind's
secrets (URLs, signing secret, SMTP password) as JSON sealed with dockyard_kit.sealing.

deliveries: one notification to one channel. UNIQUE (channel_id, dedupe_key) is what keeps an
event from being delivered twice to a channel: the consumer inserts with ON CONFLICT DO NOTHING in
the transaction that records the event in the inbox, and the expiry check keys on the certificate
and its expiry date. The dispatcher claims due rows (status pending, next_attempt_at passed, no
live lease) with FOR UPDATE SKIP LOCKED and holds each by leased_until while it sends, so a
crashed sender's delivery is tried again once its lease has run out. delivery_attempts keeps every
attempt's outcome (the delivery log).

Revision ID: 0001_notification_channels
"""

from alembic import op

from dockyard_kit.kit_migrations.identity_read_model_tables import (
    create_identity_read_model_tables,
    drop_identity_read_model_tables,
)
from dockyard_kit.migrations import execute_each

revision = "0001_notification_channels"
down_revision = None

KINDS = "'webhook', 'slack', 'discord', 'email'"
EVENTS = "'deployment_succeeded', 'deployment_failed', 'deployment_rolled_back', 'certificate_expiring'"
STATUSES = "'pending', 'delivered', 'failed'"

# One statement each: asyncpg runs every statement as a prepared statement.
UPGRADE = [
    r"""
-- Read model, fed by projects.project.* events: who owns a project, which team holds it (access
-- decisions, and a team's channels hear of its projects) and its name (what messages say).
CREATE TABLE notifications.projects (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    team_id uuid,
    name varchar(100),
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    "CREATE INDEX ix_projects_team_id ON notifications.projects (team_id)",
    r"""
-- Read model, fed by projects.certificate.* events: what the expiry check warns about.
CREATE TABLE notifications.certificates (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    domain_id uuid NOT NULL,
    domain varchar(255) NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    "CREATE INDEX ix_certificates_project_id ON notifications.certificates (project_id)",
    "CREATE INDEX ix_certificates_domain_expires ON notifications.certificates (domain_id, expires_at)",
    rf"""
CREATE TABLE notifications.channels (
    id uuid PRIMARY KEY,
    project_id uuid,
    team_id uuid,
    name varchar(100) NOT NULL,
    kind varchar(20) NOT NULL CONSTRAINT check_channel_kind CHECK (kind IN ({KINDS})),
    config jsonb NOT NULL DEFAULT '{{}}',
    secrets text NOT NULL,
    events text[] NOT NULL CONSTRAINT check_channel_events
        CHECK (cardinality(events) > 0 AND events <@ ARRAY[{EVENTS}]::text[]),
    certificate_expiring_within_days integer NOT NULL DEFAULT 14
        CONSTRAINT check_channel_expiry_days CHECK (certificate_expiring_within_days BETWEEN 1 AND 365),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT check_channel_owner CHECK ((project_id IS NULL) <> (team_id IS NULL))
)
""",
    "CREATE INDEX ix_channels_project ON notifications.channels (project_id, created_at, id)",
    "CREATE INDEX ix_channels_team ON notifications.channels (team_id, created_at, id)",
    rf"""
CREATE TABLE notifications.deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    channel_id uuid NOT NULL REFERENCES notifications.channels (id) ON DELETE CASCADE,
    event varchar(40) NOT NULL
        CONSTRAINT check_delivery_event CHECK (event IN ({EVENTS}, 'test')),
    dedupe_key varchar(200) NOT NULL,
    payload jsonb NOT NULL,
    summary text NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'pending'
        CONSTRAINT check_delivery_status CHECK (status IN ({STATUSES})),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    last_http_status integer,
    last_error text,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_deliveries_channel_dedupe UNIQUE (channel_id, dedupe_key)
)
""",
    "CREATE INDEX ix_deliveries_due ON notifications.deliveries (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX ix_deliveries_channel_created"
    " ON notifications.deliveries (channel_id, created_at DESC, id DESC)",
    r"""
CREATE TABLE notifications.delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES notifications.deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    attempted_at timestamptz NOT NULL,
    http_status integer,
    error text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
)
""",
]

DOWNGRADE = [
    "DROP TABLE notifications.delivery_attempts",
    "DROP TABLE notifications.deliveries",
    "DROP TABLE notifications.channels",
    "DROP TABLE notifications.certificates",
    "DROP TABLE notifications.projects",
]


def upgrade() -> None:
    create_identity_read_model_tables(op, "notifications")
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
    drop_identity_read_model_tables(op, "notifications")
