"""Between the trail's rows and what clients receive: AuditLog messages, and the export's NDJSON and
CSV lines (NDJSON lines are the message's JSON as the gateway prints it: field names as in the
proto, every field present)."""

import csv
import io
import json

from google.protobuf import json_format

from dockyard.audit.v1 import audit_pb2
from dockyard_kit import protoconv

CSV_COLUMNS = (
    "id",
    "created_at",
    "user_id",
    "username",
    "action",
    "resource_type",
    "resource_id",
    "project_id",
    "team_id",
    "ip_address",
    "user_agent",
    "request_id",
    "event_id",
    "details",
)


def _text(value) -> str:
    return "" if value is None else str(value)


def audit_log(row) -> audit_pb2.AuditLog:
    message = audit_pb2.AuditLog(
        id=row["id"],
        user_id=_text(row["user_id"]),
        username=_text(row["username"]),
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=_text(row["resource_id"]),
        details=protoconv.struct_from_json(row["details"]),
        ip_address=_text(row["ip_address"]),
        user_agent=_text(row["user_agent"]),
        project_id=_text(row["project_id"]),
        team_id=_text(row["team_id"]),
        request_id=_text(row["request_id"]),
        event_id=_text(row["event_id"]),
    )
    protoconv.set_timestamp(message.created_at, row["created_at"])
    return message


def ndjson_lines(rows) -> str:
    return "".join(
        json.dumps(
            json_format.MessageToDict(
                audit_log(row), preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            ),
            separators=(",", ":"),
        )
        + "\n"
        for row in rows
    )


def csv_header() -> str:
    return csv_lines([], header=True)


def csv_lines(rows, *, header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["created_at"].isoformat() if column == "created_at" else _text(row[column])
                for column in CSV_COLUMNS
            ]
        )
    return out.getvalue()
