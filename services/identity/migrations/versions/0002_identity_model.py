"""identity: users, teams, team members (the seed's USER, TEAM, TEAM_MEMBER), refresh tokens,
API tokens, signing keys and login throttling.

Revision ID: 0002_identity_model
"""

from dockyard_kit.migrations import execute_each

revision = "0002_identity_model"
down_revision = None

# One statement each: asyncpg runs every statement as a prepared statement.
UPGRADE = [
    r"""
CREATE TABLE identity.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username varchar(255) NOT NULL,
    email varchar(255) NOT NULL,
    -- bcrypt, cost 12; NULL only for accounts that sign in elsewhere (SSO).
    password_hash varchar(255),
    role varchar(50) NOT NULL DEFAULT 'developer',
    preferences jsonb NOT NULL DEFAULT '{}',
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_email UNIQUE (email),
    CONSTRAINT check_username_format CHECK (username ~ '^[a-z0-9_-]{3,50}$'),
    CONSTRAINT check_email_format CHECK (email ~ '^[^@]+@[^@]+\.[^@]+$'),
    CONSTRAINT check_user_role CHECK (role IN ('super_admin', 'admin', 'developer', 'viewer')),
    CONSTRAINT check_preferences_object CHECK (jsonb_typeof(preferences) = 'object')
)
""",
    r"""
CREATE INDEX ix_users_role ON identity.users (role)
""",
    r"""
-- Prefix search on username and email (ListUsers' filter), whatever the collation.
CREATE INDEX ix_users_username_prefix ON identity.users (username text_pattern_ops)
""",
    r"""
CREATE INDEX ix_users_email_prefix ON identity.users (lower(email) text_pattern_ops)
""",
    r"""
CREATE TABLE identity.teams (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    description text NOT NULL DEFAULT '',
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_teams_name UNIQUE (name),
    CONSTRAINT check_team_name_length CHECK (char_length(name) BETWEEN 3 AND 100),
    CONSTRAINT check_settings_object CHECK (jsonb_typeof(settings) = 'object')
)
""",
    r"""
CREATE TABLE identity.team_members (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    team_id uuid NOT NULL REFERENCES identity.teams (id) ON DELETE CASCADE,
    role varchar(50) NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_team_members_user_team UNIQUE (user_id, team_id),
    CONSTRAINT check_team_member_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
)
""",
    r"""
CREATE INDEX ix_team_members_team_id ON identity.team_members (team_id)
""",
    r"""
-- "At least one owner per team", enforced where concurrent writers cannot both slip past it: every
-- change that takes an owner away locks the team's row first, so two demotions of a team's two
-- owners run one after the other and the second sees the first.
CREATE FUNCTION identity.team_keeps_an_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM identity.teams WHERE id = OLD.team_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- the team itself is being deleted
    END IF;
    IF NOT EXISTS (SELECT 1 FROM identity.team_members WHERE team_id = OLD.team_id AND role = 'owner') THEN
        RAISE EXCEPTION 'a team must keep at least one owner'
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'team_keeps_an_owner', COLUMN = 'role';
    END IF;
    RETURN NULL;
END;
$$
""",
    r"""
CREATE TRIGGER team_keeps_an_owner AFTER UPDATE OF role OR DELETE ON identity.team_members
    FOR EACH ROW EXECUTE FUNCTION identity.team_keeps_an_owner()
""",
    r"""
-- Sessions: opaque refresh tokens, stored as SHA-256 hashes, rotated on use. Every token of one
-- sign-in shares a family; presenting a used token revokes the family.
CREATE TABLE identity.refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    client_ip inet,
    user_agent text,
    CONSTRAINT uq_refresh_tokens_hash UNIQUE (token_hash)
)
""",
    r"""
CREATE INDEX ix_refresh_tokens_family ON identity.refresh_tokens (family_id)
""",
    r"""
CREATE INDEX ix_refresh_tokens_user ON identity.refresh_tokens (user_id)
""",
    r"""
-- API tokens for automation, stored as SHA-256 hashes; never more than their owner may do.
CREATE TABLE identity.api_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    name varchar(100) NOT NULL,
    token_hash bytea NOT NULL,
    prefix varchar(16) NOT NULL,
    scope varchar(20) NOT NULL,
    project_ids uuid[] NOT NULL DEFAULT '{}',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT uq_api_tokens_hash UNIQUE (token_hash),
    CONSTRAINT uq_api_tokens_user_name UNIQUE (user_id, name),
    CONSTRAINT check_api_token_scope CHECK (scope IN ('read_only', 'read_write')),
    CONSTRAINT check_api_token_name_length CHECK (char_length(name) BETWEEN 1 AND 100)
)
""",
    r"""
CREATE INDEX ix_api_tokens_user ON identity.api_tokens (user_id)
""",
    r"""
-- JWT signing keys. The private key is encrypted at rest (AES-256-GCM under the master key, whose
-- id is kept beside it); the public half is published in the JWKS until the key expires.
CREATE TABLE identity.signing_keys (
    kid varchar(64) PRIMARY KEY,
    algorithm varchar(16) NOT NULL,
    private_key_encrypted bytea NOT NULL,
    master_key_id varchar(64) NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Signs new tokens from this time until retired_at; published until expires_at.
    retired_at timestamptz,
    expires_at timestamptz
)
""",
    r"""
-- Failed sign-ins per account and per client address, for slowing down and refusing guessers.
CREATE TABLE identity.login_throttle (
    key varchar(300) PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
)
""",
]

DOWNGRADE = [
    "DROP TABLE identity.login_throttle",
    "DROP TABLE identity.signing_keys",
    "DROP TABLE identity.api_tokens",
    "DROP TABLE identity.refresh_tokens",
    "DROP TRIGGER team_keeps_an_owner ON identity.team_members",
    "DROP FUNCTION identity.team_keeps_an_owner()",
    "DROP TABLE identity.team_members",
    "DROP TABLE identity.teams",
    "DROP TABLE identity.users",
]


def upgrade() -> None:
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
