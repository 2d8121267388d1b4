"""Between protobuf and the projects service's rows: resources for responses (rpc/) and event
payloads (domain/). Both layers use it, so it imports neither, nor the store (pyproject.toml's
import contracts). Secrets are masked here, once, for responses and events alike; only the reveal
calls build messages with plaintext, from values the domain layer decrypted."""

import json

from google.protobuf import struct_pb2

from dockyard.projects.v1 import projects_pb2
from dockyard_kit import docker_config, protoconv
from dockyard_kit.protoconv import struct_from_json
from services.projects import dns_challenge
from services.projects.credentials import MASK, masked_connection_string


def project(row) -> projects_pb2.Project:
    message = projects_pb2.Project(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        owner_id=str(row["owner_id"]),
        team_id=str(row["team_id"]) if row["team_id"] else "",
        metadata=struct_from_json(row["metadata"]),
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message


def application(row) -> projects_pb2.Application:
    message = projects_pb2.Application(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        name=row["name"],
        type=row["type"],
        status=row["status"],
        source_type=row["source_type"],
        source_config=struct_from_json(row["source_config"]),
        docker_config=_masked_docker_config(row["docker_config"]),
        env_vars=json.loads(row["env_vars"]),
        replicas=row["replicas"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    if row["deleted_at"] is not None:
        protoconv.set_timestamp(message.deleted_at, row["deleted_at"])
    return message


def _masked_docker_config(stored: str) -> struct_pb2.Struct:
    """The stored JSON holds the mask already (migration 0005's check); masked once more here, where
    every response and event is built, so no path can show a registry password."""
    if "registry_auth" not in stored:  # most applications name no registry: skip the parse
        return struct_from_json(stored)
    return struct_from_json(json.dumps(docker_config.masked(json.loads(stored))))


def git_source(row, webhook_secret: str = MASK) -> projects_pb2.GitSource:
    """`webhook_secret` is masked unless the caller just chose or was just given it."""
    return projects_pb2.GitSource(
        id=str(row["id"]),
        application_id=str(row["application_id"]),
        provider=row["provider"],
        repository=row["repository"],
        branch=row["branch"],
        commit_sha=row["commit_sha"] or "",
        webhook_config=struct_from_json(row["webhook_config"]),
        webhook_secret=webhook_secret,
    )


def env_var(row, revealed_value: str | None = None) -> projects_pb2.EnvVar:
    """A secret's value is masked unless `revealed_value` (decrypted by the domain) is given."""
    if revealed_value is not None:
        value = revealed_value
    else:
        value = MASK if row["is_secret"] else row["value"]
    message = projects_pb2.EnvVar(
        id=str(row["id"]),
        application_id=str(row["application_id"]),
        key=row["key"],
        value=value,
        is_secret=row["is_secret"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message


def volume(row) -> projects_pb2.Volume:
    message = projects_pb2.Volume(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        name=row["name"],
        type=row["type"],
        mount_path=row["mount_path"],
        size_gb=row["size_gb"],
        application_id=str(row["application_id"]) if row["application_id"] else "",
        database_id=str(row["database_id"]) if row["database_id"] else "",
        docker_name=row["docker_name"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    return message


def domain(row, *, with_challenge: bool = False) -> projects_pb2.Domain:
    """`with_challenge`: the DNS challenge too (for the project's writers; never in events)."""
    message = projects_pb2.Domain(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        domain=row["domain"],
        target_type=row["target_type"],
        target_id=str(row["target_id"]),
        tls_enabled=row["tls_enabled"],
        verification_state="verified" if row["verified_at"] else "pending",
        verified_by=row["verified_by"] or "",
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    if row["verified_at"]:
        protoconv.set_timestamp(message.verified_at, row["verified_at"])
    if with_challenge:
        message.verification_record_name = dns_challenge.record_name(row["domain"])
        message.verification_record_value = dns_challenge.record_value(row["verification_token"])
    return message


def certificate(row, revealed_private_key: str | None = None) -> projects_pb2.Certificate:
    """`row` joins the certificate with its domain (columns `domain`, `project_id`)."""
    message = projects_pb2.Certificate(
        id=str(row["id"]),
        domain_id=str(row["domain_id"]),
        issuer=row["issuer"],
        certificate=row["certificate"],
        private_key=revealed_private_key if revealed_private_key is not None else MASK,
        domain=row["domain"],
        project_id=str(row["project_id"]),
    )
    protoconv.set_timestamp(message.expires_at, row["expires_at"])
    protoconv.set_timestamp(message.created_at, row["created_at"])
    return message


def database(row) -> projects_pb2.Database:
    message = projects_pb2.Database(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        name=row["name"],
        type=row["type"],
        status=row["status"],
        version=row["version"],
        config=struct_from_json(row["config"]),
        connection_string=masked_connection_string(row["type"], row["name"], row["username"]),
        username=row["username"],
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    protoconv.set_timestamp(message.updated_at, row["updated_at"])
    return message
