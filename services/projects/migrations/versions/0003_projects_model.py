"""projects: the seed's PROJECT, APPLICATION, GIT_SOURCE, ENV_VAR, VOLUME, DOMAIN, CERTIFICATE and
DATABASE, the application_stats materialized view, row-level security on projects, and the read
model of identity's users and team memberships that access decisions (and the RLS policy) use.

Encrypted columns (env_vars.value when is_secret, git_sources.webhook_secret,
certificates.private_key, databases.connection_string) hold base64 of dockyard_kit.crypto's format,
which names the master key it was sealed under.

Revision ID: 0003_projects_model
"""

from dockyard_kit.migrations import execute_each

revision = "0003_projects_model"
down_revision = None

# One statement each: asyncpg runs every statement as a prepared statement.
UPGRADE = [
    r"""
-- Read model, fed by identity.team_member.* events: who is in which team, with which role. The
-- membership id lets a late "removed" of an old membership leave a newer one alone.
CREATE TABLE projects.team_members (
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    membership_id uuid NOT NULL,
    role varchar(50) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id),
    CONSTRAINT check_team_member_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
)
""",
    "CREATE INDEX ix_team_members_user_id ON projects.team_members (user_id)",
    r"""
-- Read model, fed by identity.user.* events: each user's current platform role, so a demotion
-- takes effect before the caller's access token expires.
CREATE TABLE projects.user_roles (
    user_id uuid PRIMARY KEY,
    role varchar(50) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT check_user_role CHECK (role IN ('super_admin', 'admin', 'developer', 'viewer'))
)
""",
    r"""
CREATE TABLE projects.projects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    description text NOT NULL DEFAULT '',
    owner_id uuid NOT NULL,
    team_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_projects_owner_name UNIQUE (owner_id, name),
    CONSTRAINT check_project_name_length CHECK (char_length(name) BETWEEN 3 AND 100),
    CONSTRAINT check_project_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
)
""",
    "CREATE INDEX ix_projects_owner_id ON projects.projects (owner_id)",
    "CREATE INDEX ix_projects_team_id ON projects.projects (team_id)",
    "CREATE INDEX ix_projects_metadata ON projects.projects USING gin (metadata)",
    "CREATE INDEX ix_projects_newest ON projects.projects (created_at DESC, id DESC)",
    r"""
CREATE TABLE projects.applications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects (id) ON DELETE CASCADE,
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL,
    status varchar(50) NOT NULL DEFAULT 'stopped',
    source_type varchar(50) NOT NULL,
    source_config jsonb NOT NULL DEFAULT '{}',
    docker_config jsonb NOT NULL DEFAULT '{}',
    -- The non-secret env vars, kept equal to env_vars rows by a trigger (read-only to the API).
    env_vars jsonb NOT NULL DEFAULT '{}',
    replicas integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The seed's soft delete: set together with status 'archived'.
    deleted_at timestamptz DEFAULT NULL,
    -- Unique among archived ones too: a name is free again only after a purge.
    CONSTRAINT uq_applications_project_name UNIQUE (project_id, name),
    -- Names become Docker service and network host names: a DNS label.
    CONSTRAINT check_app_name_format CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT check_app_type CHECK (type IN ('docker', 'git', 'compose')),
    CONSTRAINT check_app_status CHECK (status IN ('stopped', 'deploying', 'running', 'failed', 'scaling', 'archived')),
    CONSTRAINT check_app_source_type CHECK (source_type IN ('github', 'gitlab', 'bitbucket', 'gitea', 'docker', 'docker_compose')),
    CONSTRAINT check_replicas_non_negative CHECK (replicas >= 0),
    CONSTRAINT check_app_archived CHECK ((status = 'archived') = (deleted_at IS NOT NULL)),
    CONSTRAINT check_app_source_config_object CHECK (jsonb_typeof(source_config) = 'object'),
    CONSTRAINT check_app_docker_config_object CHECK (jsonb_typeof(docker_config) = 'object'),
    CONSTRAINT check_app_env_vars_object CHECK (jsonb_typeof(env_vars) = 'object')
)
""",
    "CREATE INDEX ix_applications_project_id ON projects.applications (project_id)",
    "CREATE INDEX ix_applications_status ON projects.applications (status)",
    "CREATE INDEX ix_applications_env_vars ON projects.applications USING gin (env_vars)",
    "CREATE INDEX ix_applications_docker_config ON projects.applications USING gin (docker_config)",
    "CREATE INDEX idx_applications_active ON projects.applications (id) WHERE deleted_at IS NULL",
    r"""
-- A project's live applications, newest first: the list page's keyset walk.
CREATE INDEX ix_applications_project_live ON projects.applications (project_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL
""",
    r"""
CREATE FUNCTION projects.soft_delete_application(app_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projects.applications
    SET deleted_at = now(), status = 'archived', updated_at = now()
    WHERE id = app_id AND deleted_at IS NULL;
END;
$$
""",
    r"""
CREATE TABLE projects.git_sources (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL REFERENCES projects.applications (id) ON DELETE CASCADE,
    provider varchar(50) NOT NULL,
    repository varchar(500) NOT NULL,
    branch varchar(255) NOT NULL DEFAULT 'main',
    commit_sha varchar(40),
    -- Settings only; the secret lives encrypted in webhook_secret.
    webhook_config jsonb NOT NULL DEFAULT '{}',
    webhook_secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_git_sources_application_id UNIQUE (application_id),
    CONSTRAINT check_git_provider CHECK (provider IN ('github', 'gitlab', 'bitbucket', 'gitea')),
    CONSTRAINT check_git_repository_format CHECK (repository ~ '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$'),
    CONSTRAINT check_git_branch_length CHECK (char_length(branch) BETWEEN 1 AND 255),
    CONSTRAINT check_git_commit_sha CHECK (commit_sha ~ '^[0-9a-f]{7,40}$'),
    CONSTRAINT check_git_webhook_config_object CHECK (jsonb_typeof(webhook_config) = 'object')
)
""",
    r"""
CREATE TABLE projects.env_vars (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id uuid NOT NULL REFERENCES projects.applications (id) ON DELETE CASCADE,
    key varchar(255) NOT NULL,
    -- The value; for a secret, base64 of its AES-256-GCM ciphertext.
    value text NOT NULL,
    is_secret boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_env_vars_application_key UNIQUE (application_id, key),
    CONSTRAINT check_env_var_key_format CHECK (key ~ '^[A-Z_][A-Z0-9_]*$')
)
""",
    "CREATE INDEX ix_env_vars_application_id ON projects.env_vars (application_id)",
    r"""
-- applications.env_vars mirrors the application's non-secret env_vars rows.
CREATE FUNCTION projects.mirror_env_vars() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    app uuid := COALESCE(NEW.application_id, OLD.application_id);
BEGIN
    UPDATE projects.applications a
    SET env_vars = COALESCE(
        (SELECT jsonb_object_agg(e.key, e.value) FROM projects.env_vars e
         WHERE e.application_id = app AND NOT e.is_secret), '{}')
    WHERE a.id = app;
    RETURN NULL;
END;
$$
""",
    r"""
CREATE TRIGGER mirror_env_vars AFTER INSERT OR UPDATE OR DELETE ON projects.env_vars
    FOR EACH ROW EXECUTE FUNCTION projects.mirror_env_vars()
""",
    r"""
CREATE TABLE projects.databases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects (id) ON DELETE CASCADE,
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL,
    status varchar(50) NOT NULL DEFAULT 'initializing',
    version varchar(50) NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    -- The generated login (not secret); its password is only inside connection_string.
    username varchar(63) NOT NULL,
    -- base64 of the AES-256-GCM ciphertext of the full connection string.
    connection_string text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_databases_project_name UNIQUE (project_id, name),
    CONSTRAINT check_database_name_format CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    CONSTRAINT check_db_type CHECK (type IN ('postgresql', 'mysql', 'mongodb', 'redis')),
    CONSTRAINT check_db_status CHECK (status IN ('initializing', 'running', 'stopped', 'failed')),
    CONSTRAINT check_db_version_format CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$'),
    CONSTRAINT check_db_config_object CHECK (jsonb_typeof(config) = 'object')
)
""",
    "CREATE INDEX ix_databases_project_id ON projects.databases (project_id)",
    "CREATE INDEX ix_databases_type ON projects.databases (type)",
    "CREATE INDEX ix_databases_project_newest ON projects.databases (project_id, created_at DESC, id DESC)",
    r"""
CREATE TABLE projects.volumes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects (id) ON DELETE CASCADE,
    name varchar(255) NOT NULL,
    type varchar(50) NOT NULL DEFAULT 'docker_volume',
    mount_path varchar(500) NOT NULL,
    size_gb integer NOT NULL,
    -- RESTRICT (seed): a mounted volume blocks deleting what mounts it.
    application_id uuid REFERENCES projects.applications (id) ON DELETE RESTRICT,
    database_id uuid REFERENCES projects.databases (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_volumes_name UNIQUE (name),
    CONSTRAINT check_volume_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$'),
    CONSTRAINT check_volume_type CHECK (type IN ('docker_volume', 'nfs', 's3')),
    CONSTRAINT check_volume_mount_path CHECK (mount_path ~ '^/[^\s]*$'),
    CONSTRAINT check_size_positive CHECK (size_gb > 0),
    CONSTRAINT check_volume_single_mount CHECK (application_id IS NULL OR database_id IS NULL)
)
""",
    "CREATE INDEX ix_volumes_project_id ON projects.volumes (project_id)",
    "CREATE INDEX ix_volumes_application_id ON projects.volumes (application_id)",
    "CREATE INDEX ix_volumes_database_id ON projects.volumes (database_id)",
    r"""
CREATE TABLE projects.domains (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects.projects (id) ON DELETE CASCADE,
    domain varchar(255) NOT NULL,
    target_type varchar(50) NOT NULL,
    target_id uuid NOT NULL,
    tls_enabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_domains_domain UNIQUE (domain),
    -- A lower-case host name: dot-separated labels of letters, digits and inner hyphens.
    CONSTRAINT check_domain_format CHECK (
        char_length(domain) <= 253
        AND domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'
    ),
    CONSTRAINT check_domain_target_type CHECK (target_type IN ('application', 'database'))
)
""",
    "CREATE INDEX ix_domains_project_id ON projects.domains (project_id)",
    "CREATE INDEX ix_domains_target ON projects.domains (target_type, target_id)",
    r"""
CREATE TABLE projects.certificates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_id uuid NOT NULL REFERENCES projects.domains (id) ON DELETE CASCADE,
    issuer varchar(255) NOT NULL,
    certificate text NOT NULL,
    -- base64 of the AES-256-GCM ciphertext of the PEM private key.
    private_key text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT check_expiry_future CHECK (expires_at > now())
)
""",
    "CREATE INDEX ix_certificates_domain_id ON projects.certificates (domain_id)",
    "CREATE INDEX ix_certificates_expires_at ON projects.certificates (expires_at)",
    r"""
CREATE MATERIALIZED VIEW projects.application_stats AS
SELECT
    project_id,
    COUNT(*) AS total_applications,
    COUNT(*) FILTER (WHERE status = 'running') AS running,
    COUNT(*) FILTER (WHERE status = 'stopped') AS stopped,
    COUNT(*) FILTER (WHERE status = 'failed') AS failed
FROM projects.applications
WHERE deleted_at IS NULL
GROUP BY project_id
""",
    # REFRESH ... CONCURRENTLY needs a unique index.
    "CREATE UNIQUE INDEX uq_application_stats_project_id ON projects.application_stats (project_id)",
    r"""
-- When each materialized view was last refreshed (the view itself cannot say).
CREATE TABLE projects.view_refreshes (
    view_name varchar(100) PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
)
""",
    "INSERT INTO projects.view_refreshes (view_name, refreshed_at) VALUES ('application_stats', now())",
    # Row-level security on projects, as the seed writes it, kept as defence in depth. The service
    # sets app.user_id (the caller) per transaction; app.all_projects = 'on' marks platform admins
    # and the service's own work (event consumers). FORCE: the service's role owns the table.
    "ALTER TABLE projects.projects ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE projects.projects FORCE ROW LEVEL SECURITY",
    r"""
CREATE POLICY projects_select_policy ON projects.projects
    FOR SELECT
    USING (
        current_setting('app.all_projects', true) = 'on'
        OR owner_id = NULLIF(current_setting('app.user_id', true), '')::uuid
        OR team_id IN (
            SELECT team_id FROM projects.team_members
            WHERE user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
        )
    )
""",
    r"""
CREATE POLICY projects_delete_policy ON projects.projects
    FOR DELETE
    USING (
        current_setting('app.all_projects', true) = 'on'
        OR owner_id = NULLIF(current_setting('app.user_id', true), '')::uuid
    )
""",
    r"""
-- New projects belong to the caller who creates them.
CREATE POLICY projects_insert_policy ON projects.projects
    FOR INSERT
    WITH CHECK (
        current_setting('app.all_projects', true) = 'on'
        OR owner_id = NULLIF(current_setting('app.user_id', true), '')::uuid
    )
""",
    r"""
-- Updates reach only projects the caller can see; which fields a team role may change is the
-- service's decision. Ownership never moves by update.
CREATE POLICY projects_update_policy ON projects.projects
    FOR UPDATE
    USING (
        current_setting('app.all_projects', true) = 'on'
        OR owner_id = NULLIF(current_setting('app.user_id', true), '')::uuid
        OR team_id IN (
            SELECT team_id FROM projects.team_members
            WHERE user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
        )
    )
""",
]

DOWNGRADE = [
    "DROP TABLE projects.view_refreshes",
    "DROP MATERIALIZED VIEW projects.application_stats",
    "DROP TABLE projects.certificates",
    "DROP TABLE projects.domains",
    "DROP TABLE projects.volumes",
    "DROP TABLE projects.databases",
    "DROP TABLE projects.env_vars",
    "DROP FUNCTION projects.mirror_env_vars()",
    "DROP TABLE projects.git_sources",
    "DROP FUNCTION projects.soft_delete_application(uuid)",
    "DROP TABLE projects.applications",
    "DROP TABLE projects.projects",
    "DROP TABLE projects.user_roles",
    "DROP TABLE projects.team_members",
]


def upgrade() -> None:
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
