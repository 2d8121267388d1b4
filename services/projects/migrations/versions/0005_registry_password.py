"""projects: an application's registry password, sealed in a column of its own.

docker_config.registry_auth.password is a secret: the JSON keeps the mask in its place
(check_docker_config_password_masked) and the password itself lives in registry_password, sealed
by the service (dockyard_kit/sealing.py, services/projects/sealed_columns.py); NULL when the
application names no registry. SQL cannot seal, so a password an application stored in plaintext
before this revision is dropped with its registry_auth (set it again).

Revision ID: 0005_registry_password
"""

from dockyard_kit.migrations import execute_each

revision = "0005_registry_password"
down_revision = "0004_domain_verification"

# dockyard_kit.sealing.SECRET_MASK, spelled here because a revision keeps the value it was written with.
_MASK = "********"

UPGRADE = [
    "ALTER TABLE projects.applications ADD COLUMN registry_password text",
    "UPDATE projects.applications SET docker_config = docker_config - 'registry_auth'"
    f" WHERE docker_config #>> '{{registry_auth,password}}' IS DISTINCT FROM '{_MASK}'"
    " AND docker_config ? 'registry_auth'",
    "ALTER TABLE projects.applications ADD CONSTRAINT check_docker_config_password_masked"
    f" CHECK (docker_config #>> '{{registry_auth,password}}' IS NULL"
    f" OR docker_config #>> '{{registry_auth,password}}' = '{_MASK}')",
]

DOWNGRADE = [
    # The sealed passwords go with their column; the JSON keeps the mask.
    "ALTER TABLE projects.applications DROP CONSTRAINT check_docker_config_password_masked",
    "ALTER TABLE projects.applications DROP COLUMN registry_password",
]


def upgrade() -> None:
    execute_each(UPGRADE)


def downgrade() -> None:
    execute_each(DOWNGRADE)
