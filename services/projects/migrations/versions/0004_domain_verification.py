"""projects: domain ownership verification and per-project volume names.

Domains: a domain is `pending` until its project proves it controls the host name's DNS (a TXT
record `_dockyard-challenge.<domain>` holding `dockyard-verify=<verification_token>`) or a
platform admin marks it verified; only verified domains are routed. The seed's global UNIQUE on
domain now holds among verified domains (uq_domains_verified_domain): any number of projects may
hold a pending claim on a host name, so claiming one tells nobody whether another tenant holds it,
and a squatter's pending claim blocks nobody; each project claims a host at most once. Existing
domains were never verified: they become pending, each with a fresh token.

Volumes: the seed's global uniqueness of Docker volume names moves to docker_name, derived from the
project at creation by a trigger (dockyard-<project id hex>-<name>); the name people choose is
unique per project. Existing volumes keep their Docker name (the volume exists under it).

Revision ID: 0004_domain_verification
"""

from dockyard_kit.migrations import execute_each

revision = "0004_domain_verification"
down_revision = "0003_projects_model"

# 64 hex digits: two random UUIDs' 244 bits from PostgreSQL's strong random source.
_FRESH_TOKEN = "replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')"

UPGRADE = [
    # Each claim's own token (every row that predates verification gets one too); a claim that
    # loses its host name gets a fresh one (SET verification_token = DEFAULT).
    f"ALTER TABLE projects.domains ADD COLUMN verification_token varchar(64) NOT NULL DEFAULT {_FRESH_TOKEN}",
    # Set when ownership was proven (or an admin vouched for it); NULL while pending.
    "ALTER TABLE projects.domains ADD COLUMN verified_at timestamptz",
    "ALTER TABLE projects.domains ADD COLUMN verified_by varchar(10)",
    "ALTER TABLE projects.domains ADD CONSTRAINT check_domain_verified_by"
    " CHECK ((verified_at IS NULL) = (verified_by IS NULL) AND verified_by IN ('dns', 'admin'))",
    "ALTER TABLE projects.domains DROP CONSTRAINT uq_domains_domain",
    "ALTER TABLE projects.domains ADD CONSTRAINT uq_domains_project_domain UNIQUE (project_id, domain)",
    "CREATE UNIQUE INDEX uq_domains_verified_domain ON projects.domains (domain) WHERE verified_at IS NOT NULL",
    # Docker's volume names: 1-300 characters (the prefix plus a 255-character name).
    "ALTER TABLE projects.volumes ADD COLUMN docker_name varchar(300)",
    "UPDATE projects.volumes SET docker_name = name",
    "ALTER TABLE projects.volumes ALTER COLUMN docker_name SET NOT NULL",
    r"""
-- A new volume's Docker name, derived from its project at creation (and kept: the volume exists
-- under it): dockyard-<project id hex>-<name>.
CREATE FUNCTION projects.derive_volume_docker_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.docker_name := coalesce(
        NEW.docker_name, 'dockyard-' || replace(NEW.project_id::text, '-', '') || '-' || NEW.name
    );
    RETURN NEW;
END
$$
""",
    "CREATE TRIGGER derive_volume_docker_name BEFORE INSERT ON projects.volumes"
    " FOR EACH ROW EXECUTE FUNCTION projects.derive_volume_docker_name()",
    "ALTER TABLE projects.volumes ADD CONSTRAINT check_volume_docker_name_format"
    " CHECK (docker_name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$')",
    "ALTER TABLE projects.volumes DROP CONSTRAINT uq_volumes_name",
    # Before uq_volumes_docker_name: PostgreSQL checks unique indexes in the order they were made,
    # and a name twice in one project is to be reported as that, not as its derived Docker name.
    "ALTER TABLE projects.volumes ADD CONSTRAINT uq_volumes_project_name UNIQUE (project_id, name)",
    "ALTER TABLE projects.volumes ADD CONSTRAINT uq_volumes_docker_name UNIQUE (docker_name)",
]

DOWNGRADE = [
    # Global names again: a volume whose name another project also uses takes its Docker name
    # (globally unique; longer ones are cut to the old 255 characters).
    r"""
UPDATE projects.volumes v SET name = left(v.docker_name, 255)
WHERE EXISTS (
    SELECT 1 FROM projects.volumes other
    WHERE other.name = v.name AND (other.created_at, other.id) < (v.created_at, v.id)
)
""",
    "ALTER TABLE projects.volumes DROP CONSTRAINT uq_volumes_project_name",
    "ALTER TABLE projects.volumes ADD CONSTRAINT uq_volumes_name UNIQUE (name)",
    "DROP TRIGGER derive_volume_docker_name ON projects.volumes",
    "DROP FUNCTION projects.derive_volume_docker_name()",
    "ALTER TABLE projects.volumes DROP COLUMN docker_name",
    # One claim per host name again: the verified one, else the oldest.
    r"""
DELETE FROM projects.domains d
WHERE EXISTS (
    SELECT 1 FROM projects.domains other
    WHERE other.domain = d.domain AND other.id <> d.id
      AND (other.verified_at IS NOT NULL, d.created_at, d.id) > (d.verified_at IS NOT NULL, other.created_at, other.id)
)
""",
    "DROP INDEX projects.uq_domains_verified_domain",
    "ALTER TABLE projects.domains DROP CONSTRAINT uq_domains_project_domain",
    "ALTER TABLE projects.domains ADD CONSTRAINT uq_domains_domain UNIQUE (domain)",
    "ALTER TABLE projects.domains DROP COLUMN verified_by",
    "ALTER TABLE projects.domains DROP COLUMN verified_at",
    "ALTER TABLE projects.domains DROP COLUMN verification_token",
]


def upgrade() -> None:
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
