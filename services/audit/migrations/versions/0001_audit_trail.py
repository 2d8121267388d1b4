"""audit: the audit trail (the seed's AUDIT_LOG) and the read models that decide who sees what.

audit_logs follows the seed's AUDIT_LOG: bigserial id, user_id (SET NULL when the user is deleted,
applied from identity's event, since no foreign key crosses a schema), action (the event's type),
resource_type limited to the seed's enum, resource_id, details, ip_address INET, user_agent,
created_at (when the change happened: the event's time), and the seed's search_vector kept by its
trigger. Beside them: the acting user's username when the entry was written (kept after the user is
deleted), the project and team the resource belongs to (access decisions), and the event and
request ids.

It is range-partitioned by month on created_at, as the seed says. PostgreSQL requires the partition
key in the primary key, so the key is (id, created_at); id still comes from one sequence, so it is
unique on its own. Monthly partitions (audit_logs_YYYY_MM) are made ahead by the service
(store/partitions.py); a row no month partition takes lands in audit_logs_default, never lost.

The action index uses varchar_pattern_ops, so that a prefix filter (`action LIKE 'projects.%'`)
uses it as well as an exact one. The created_at index is (created_at DESC, id DESC), the order of
the keyset pages.

Revision ID: 0001_audit_trail
"""

from alembic import op

from dockyard_kit.kit_migrations.identity_read_model_tables import (
    create_identity_read_model_tables,
    drop_identity_read_model_tables,
)
from dockyard_kit.migrations import execute_each

revision = "0001_audit_trail"
down_revision = None

RESOURCE_TYPES = "'user', 'team', 'project', 'application', 'database', 'deployment', 'domain'"

# One statement each: asyncpg runs every statement as a prepared statement.
UPGRADE = [
    rf"""
CREATE TABLE audit.audit_logs (
    id bigserial NOT NULL,
    user_id uuid,
    username varchar(255),
    action varchar(100) NOT NULL,
    resource_type varchar(50) NOT NULL CONSTRAINT ck_audit_logs_resource_type
        CHECK (resource_type IN ({RESOURCE_TYPES})),
    resource_id uuid,
    details jsonb NOT NULL DEFAULT '{{}}',
    ip_address inet,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    project_id uuid,
    team_id uuid,
    request_id varchar(255),
    event_id uuid NOT NULL,
    search_vector tsvector,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at)
""",
    "CREATE TABLE audit.audit_logs_default PARTITION OF audit.audit_logs DEFAULT",
    "CREATE INDEX ix_audit_logs_user_created ON audit.audit_logs (user_id, created_at DESC)",
    "CREATE INDEX ix_audit_logs_resource ON audit.audit_logs (resource_type, resource_id)",
    "CREATE INDEX ix_audit_logs_action ON audit.audit_logs (action varchar_pattern_ops)",
    "CREATE INDEX ix_audit_logs_created ON audit.audit_logs (created_at DESC, id DESC)",
    "CREATE INDEX ix_audit_logs_project_created ON audit.audit_logs (project_id, created_at DESC)",
    "CREATE INDEX ix_audit_logs_team_created ON audit.audit_logs (team_id, created_at DESC)",
    "CREATE INDEX ix_audit_logs_search ON audit.audit_logs USING GIN (search_vector)",
    # The seed's trigger, with the action's words apart (its dots would make it one token) and the
    # username and user agent searchable too.
    r"""
CREATE FUNCTION audit.audit_logs_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := to_tsvector('english',
        COALESCE(NEW.action, '') || ' ' || translate(COALESCE(NEW.action, ''), '._', '  ') || ' ' ||
        COALESCE(NEW.details::text, '') || ' ' ||
        COALESCE(NEW.username, '') || ' ' || COALESCE(NEW.user_agent, ''));
    RETURN NEW;
END
$$
""",
    "CREATE TRIGGER audit_logs_search_update_trigger BEFORE INSERT OR UPDATE ON audit.audit_logs"
    " FOR EACH ROW EXECUTE FUNCTION audit.audit_logs_search_update()",
    r"""
-- Read model, fed by identity.user.* events: the username each entry records.
CREATE TABLE audit.users (
    id uuid PRIMARY KEY,
    username varchar(255) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    r"""
-- Users deleted: their later-arriving events (other services relay on their own) are written with
-- user_id NULL too.
CREATE TABLE audit.deleted_users (
    id uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
)
""",
    r"""
-- Read model, fed by projects.project.* events: who owns a project and which team holds it now
-- (a team's owners and admins see the entries of its projects).
CREATE TABLE audit.projects (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    team_id uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
)
""",
    "CREATE INDEX ix_projects_owner_id ON audit.projects (owner_id)",
    "CREATE INDEX ix_projects_team_id ON audit.projects (team_id)",
    r"""
-- Read model: which resource of the seed's types, in which project, each application, database,
-- domain and env var is filed under (a revealed secret names only its own id).
CREATE TABLE audit.resources (
    id uuid PRIMARY KEY,
    resource_type varchar(50) NOT NULL,
    resource_id uuid NOT NULL,
    project_id uuid NOT NULL
)
""",
]

DOWNGRADE = [
    "DROP TABLE audit.resources",
    "DROP TABLE audit.projects",
    "DROP TABLE audit.deleted_users",
    "DROP TABLE audit.users",
    "DROP TABLE audit.audit_logs",
    "DROP FUNCTION audit.audit_logs_search_update()",
]


def upgrade() -> None:
    create_identity_read_model_tables(op, "audit")
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
    drop_identity_read_model_tables(op, "audit")
