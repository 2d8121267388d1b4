"""AuditLogService: requests to domain calls, rows to messages; the export streams its chunks as
they are read."""

import datetime

from google.api import httpbody_pb2

from dockyard.audit.v1 import audit_pb2, audit_pb2_grpc
from dockyard_kit.identity_read_model import ReadModelServicer
from services.audit import convert
from services.audit.domain import audit_logs
from services.audit.domain.audit_logs import RequestedFilters

# Rows per chunk of an export.
EXPORT_CHUNK_ROWS = 500
CONTENT_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _time(request, field: str):
    return getattr(request, field).ToDatetime(tzinfo=datetime.UTC) if request.HasField(field) else None


def requested_filters(request) -> RequestedFilters:
    return RequestedFilters(
        query=request.query,
        user_id=request.user_id,
        resource_type=request.resource_type,
        resource_id=request.resource_id,
        project_id=request.project_id,
        action=request.action,
        since=_time(request, "since"),
        until=_time(request, "until"),
        ip=request.ip,
    )


class AuditLogServicer(ReadModelServicer, audit_pb2_grpc.AuditLogServiceServicer):
    async def ListAuditLogs(self, request, context):
        rows, next_token = await audit_logs.list_entries(
            self.pool, await self.caller(), requested_filters(request), request.page_size, request.page_token
        )
        return audit_pb2.ListAuditLogsResponse(
            audit_logs=[convert.audit_log(row) for row in rows], next_page_token=next_token
        )

    async def GetAuditLog(self, request, context):
        return convert.audit_log(await audit_logs.get_entry(self.pool, await self.caller(), request.id))

    async def ExportAuditLogs(self, request, context):
        export_format = audit_logs.check_format(request.format)
        filters = audit_logs.check_filters(requested_filters(request))
        caller = await self.caller()
        lines = convert.ndjson_lines if export_format == "ndjson" else convert.csv_lines
        content_type = CONTENT_TYPES[export_format]
        # The first chunk goes out at once (the CSV header, or empty), so a client sees the download
        # start and its type before the first rows are read.
        yield httpbody_pb2.HttpBody(
            content_type=content_type, data=(convert.csv_header() if export_format == "csv" else "").encode()
        )
        chunk = []
        async for row in audit_logs.export_entries(self.pool, caller, filters):
            chunk.append(row)
            if len(chunk) == EXPORT_CHUNK_ROWS:
                yield httpbody_pb2.HttpBody(content_type=content_type, data=lines(chunk).encode())
                chunk = []
        if chunk:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=lines(chunk).encode())
