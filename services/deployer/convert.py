"""Between protobuf and the deployer's rows: deployments and log lines for responses (rpc/) and
event payloads (domain/). Both layers use it, so it imports neither, nor the store."""

from dockyard.deployer.v1 import deployer_pb2
from dockyard_kit import protoconv


def deployment(row) -> deployer_pb2.Deployment:
    message = deployer_pb2.Deployment(
        id=str(row["id"]),
        application_id=str(row["application_id"]),
        project_id=str(row["project_id"]),
        triggered_by=str(row["triggered_by"]) if row["triggered_by"] else "",
        status=row["status"],
        commit_sha=row["commit_sha"] or "",
        logs=row["logs"],
        metadata=protoconv.struct_from_json(row["metadata"]),
        request_id=row["request_id"] or "",
    )
    protoconv.set_timestamp(message.started_at, row["started_at"])
    if row["completed_at"] is not None:
        protoconv.set_timestamp(message.completed_at, row["completed_at"])
    return message


def log_line(row) -> deployer_pb2.DeploymentLogLine:
    message = deployer_pb2.DeploymentLogLine(
        id=row["id"], deployment_id=str(row["deployment_id"]), level=row["level"], message=row["message"]
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    return message
