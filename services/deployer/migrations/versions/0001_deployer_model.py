"""deployer: deployments, their log lines, the queue's leases, and the read models the deployer
decides access and cascades from.

deployments follows the seed's DEPLOYMENT (status enum, indexes on (application_id, started_at DESC),
status and triggered_by). `started_at` is when the deployment was asked for (it orders an
application's queue and its history); when a worker took it is metadata. The queue lives in the
same rows: a worker holds a running deployment by a lease (lease_owner, lease_expires_at) that it
renews while it works, so a crashed worker's deployment is taken over once its lease runs out.
A cancelled deployment ends `failed` (the seed's enum) with metadata.reason "cancelled".

deployment_logs follows the seed's DEPLOYMENT_LOG, hash-partitioned by deployment_id into 4
partitions. PostgreSQL requires a partitioned table's primary key to hold the partition key, so
the key is (deployment_id, id); id still comes from one sequence, so it is unique on its own.

application_id, project_id and triggered_by point into other services' schemas: no foreign key
crosses a schema, so the seed's cascades (APPLICATION -> DEPLOYMENT CASCADE, USER -> DEPLOYMENT SET
NULL) are applied from projects' and identity's events (domain/upstream_events.py).

Revision ID: 0001_deployer_model
"""

from alembic import op

from dockyard_kit.kit_migrations.identity_read_model_tables import (
    create_identity_read_model_tables,
    drop_identity_read_model_tables,
)
from dockyard_kit.migrations import execute_each

revision = "0001_deployer_model"
down_revision = None

STATUSES = "'pending', 'building', 'deploying', 'success', 'failed', 'rolled_back'"

# One statement each: asyncpg runs every statement as a prepared statement.
UPGRADE = [
    r"""
-- This platform's id: what the Swarm objects it makes are labelled managed by, so that platforms
-- sharing a Docker engine never take each other's services and images for orphans. One row.
CREATE TABLE deployer.installation (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    one_row boolean NOT NULL DEFAULT true UNIQUE CHECK (one_row),
    created_at timestamptz NOT NULL DEFAULT now()
)
""",
    "INSERT INTO deployer.installation DEFAULT VALUES",
    r"""
-- Read model, fed by projects.project.* events: who owns a project and which team holds it.
CREATE TABLE deployer.projects (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    team_id uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    "CREATE INDEX ix_projects_owner_id ON deployer.projects (owner_id)",
    "CREATE INDEX ix_projects_team_id ON deployer.projects (team_id)",
    r"""
-- Read model, fed by projects.application.* events: which project an application is in, and
-- what scaling and archiving must apply to its running service.
CREATE TABLE deployer.applications (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    name varchar(63) NOT NULL,
    status varchar(50) NOT NULL,
    replicas integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    "CREATE INDEX ix_applications_project_id ON deployer.applications (project_id)",
    rf"""
CREATE TABLE deployer.deployments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL,
    project_id uuid NOT NULL,
    triggered_by uuid,
    status varchar(50) NOT NULL DEFAULT 'pending',
    commit_sha varchar(40),
    logs text NOT NULL DEFAULT '',
    metadata jsonb NOT NULL DEFAULT '{{}}',
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz,
    -- The client's idempotency key (a webhook's: its provider's delivery id).
    request_id varchar(200),
    -- What to deploy: a git ref for git sources; for a rollback, the deployment whose image returns.
    git_ref varchar(255),
    rollback_to uuid REFERENCES deployer.deployments (id) ON DELETE SET NULL,
    -- The queue: who runs it and until when their lease holds; a cancel asked while it runs.
    lease_owner varchar(200),
    lease_expires_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    cancel_requested_by uuid,
    cancel_requested_at timestamptz,
    CONSTRAINT check_deployment_status CHECK (status IN ({STATUSES})),
    CONSTRAINT check_deployment_commit_sha CHECK (commit_sha ~ '^[0-9a-f]{{7,40}}$'),
    CONSTRAINT check_deployment_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT check_deployment_completed CHECK (
        (completed_at IS NULL) = (status IN ('pending', 'building', 'deploying'))
    ),
    CONSTRAINT check_deployment_lease CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
)
""",
    "CREATE INDEX ix_deployments_application_started ON deployer.deployments (application_id, started_at DESC)",
    "CREATE INDEX ix_deployments_status ON deployer.deployments (status)",
    "CREATE INDEX ix_deployments_triggered_by ON deployer.deployments (triggered_by)",
    # A retry with the same key finds the first deployment; the key is the application's.
    "CREATE UNIQUE INDEX uq_deployments_request_id ON deployer.deployments (application_id, request_id)"
    " WHERE request_id IS NOT NULL",
    # The queue's scan: what is waiting or running, in order.
    "CREATE INDEX ix_deployments_unfinished ON deployer.deployments (started_at, id)"
    " WHERE status IN ('pending', 'building', 'deploying')",
    r"""
CREATE TABLE deployer.deployment_logs (
    id bigserial,
    deployment_id uuid NOT NULL REFERENCES deployer.deployments (id) ON DELETE CASCADE,
    level varchar(20) NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (deployment_id, id),
    CONSTRAINT check_deployment_log_level CHECK (level IN ('debug', 'info', 'warn', 'error'))
) PARTITION BY HASH (deployment_id)
""",
    *[
        f"CREATE TABLE deployer.deployment_logs_{remainder} PARTITION OF deployer.deployment_logs"
        f" FOR VALUES WITH (MODULUS 4, REMAINDER {remainder})"
        for remainder in range(4)
    ],
    "CREATE INDEX ix_deployment_logs_deployment_created ON deployer.deployment_logs"
    " (deployment_id, created_at DESC)",
    "CREATE INDEX ix_deployment_logs_level ON deployer.deployment_logs (level)",
    # Retention deletes lines by age across every deployment.
    "CREATE INDEX ix_deployment_logs_created ON deployer.deployment_logs (created_at)",
]

DOWNGRADE = [
    "DROP TABLE deployer.deployment_logs",
    "DROP TABLE deployer.deployments",
    "DROP TABLE deployer.applications",
    "DROP TABLE deployer.projects",
    "DROP TABLE deployer.installation",
]


def upgrade() -> None:
    create_identity_read_model_tables(op, "deployer")
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
    drop_identity_read_model_tables(op, "deployer")
