"""The projects service's constraints, worded for the person who ran into them: the kit's error
mapping (dockyard_kit/errors.py) reads MESSAGES; constraints not listed get its generic wording
("name already exists (unique per project)")."""

from dockyard_kit.errors import AlreadyExists, ConstraintMessage

MESSAGES = {
    "uq_volumes_name": ConstraintMessage(
        AlreadyExists, "a volume named {name!r} already exists (volume names are global)", field="name"
    ),
    "uq_domains_domain": ConstraintMessage(
        AlreadyExists, "domain {domain} is already in use", field="domain"
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
