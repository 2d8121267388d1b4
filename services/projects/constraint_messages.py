"""The projects service's constraints, worded for the person who ran into them: the kit's error
mapping (dockyard_kit/errors.py) reads MESSAGES; constraints not listed get its generic wording
("name already exists (unique per project)")."""

from dockyard_kit.errors import AlreadyExists, ConstraintMessage

MESSAGES = {
    "uq_volumes_project_name": ConstraintMessage(
        AlreadyExists, "a volume named {name!r} already exists in this project", field="name"
    ),
    # Docker names are derived from the project and the name (unique there), so only a volume
    # from before 0004 that took such a name by hand can collide; say nothing about it.
    "uq_volumes_docker_name": ConstraintMessage(
        AlreadyExists,
        "a volume named {docker_name!r} already exists on the Docker host; choose another name",
        field="name",
    ),
    "uq_domains_project_domain": ConstraintMessage(
        AlreadyExists, "domain {domain} is already claimed by this project", field="domain"
    ),
    "uq_env_vars_application_key": ConstraintMessage(
        AlreadyExists, "env var {key} already exists in application {application_id}", field="key"
    ),
    "uq_databases_project_name": ConstraintMessage(
        AlreadyExists, "a database named {name!r} already exists in this project", field="name"
    ),
    "uq_git_sources_application_id": ConstraintMessage(
        AlreadyExists, "application {application_id} already has a git source", field="application_id"
    ),
}
