"""Errors a handler raises, and how every failure becomes a gRPC status.

Handlers raise the domain errors below (or let a database error through); the server interceptor
turns them into a status with google.rpc details, so the gateway can render field violations as JSON.
Bad input is never INTERNAL, and INTERNAL never carries internals, only the request id.
"""

import contextlib
import dataclasses
import logging
import re

import asyncpg
import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from dockyard_kit import service_modules

log = logging.getLogger("dockyard.errors")


class DomainError(Exception):
    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list:
        return []


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description

    def details(self) -> list:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=self.field, description=self.description
        )
        return [error_details_pb2.BadRequest(field_violations=[violation])]


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> list:
        if not self.field:
            return []
        violation = error_details_pb2.BadRequest.FieldViolation(field=self.field, description=self.message)
        return [error_details_pb2.BadRequest(field_violations=[violation])]


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Aborted(DomainError):
    code = grpc.StatusCode.ABORTED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


@dataclasses.dataclass(frozen=True)
class ConstraintMessage:
    """How a service words one of its constraints for the client who ran into it. `message` may
    name the values of a unique key by column, as str.format fields ("{name!r} is taken")."""

    error: type[DomainError]  # AlreadyExists, FailedPrecondition, InvalidArgument, ...
    message: str
    field: str = ""

    def worded(self, key: dict[str, str]) -> DomainError | None:
        """The error to raise; None when the message names a value the violation did not give."""
        try:
            message = self.message.format(**key)
        except (KeyError, IndexError):
            return None
        if self.error is InvalidArgument:
            return InvalidArgument(self.field, message)
        if self.error is AlreadyExists:
            return AlreadyExists(message, field=self.field)
        return self.error(message)


def registered_messages(service: str) -> dict[str, ConstraintMessage]:
    """The wording a service registers for its constraints: MESSAGES (constraint name ->
    ConstraintMessage) in services/<service>/constraint_messages.py; none without that module.
    Constraints not listed get the generic wording of from_database_error."""
    return dict(service_modules.registered(service, "constraint_messages", "MESSAGES") or {})


class ConstraintFields:
    """What the error mapping knows of a service's constraints: the wording the service registers
    (registered_messages) and which columns each constraint covers, read from pg_constraint once per
    constraint and cached, so that a violated CHECK or UNIQUE names its field without a hand-kept table."""

    def __init__(self, service: str = "") -> None:
        self.messages = registered_messages(service) if service else {}
        self._cache: dict[tuple[str, str], list[str]] = {}

    async def columns(self, pool: asyncpg.Pool | None, schema: str, constraint: str) -> list[str]:
        key = (schema, constraint)
        if key not in self._cache and pool is not None:
            try:
                async with pool.acquire(timeout=2) as conn:
                    rows = await conn.fetch(
                        """
                        SELECT a.attname FROM pg_constraint c
                        JOIN pg_namespace n ON n.oid = c.connamespace
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                        WHERE n.nspname = $1 AND c.conname = $2
                        ORDER BY array_position(c.conkey, a.attnum)
                        """,
                        schema,
                        constraint,
                    )
                self._cache[key] = [row["attname"] for row in rows]
            except (asyncpg.PostgresError, OSError, TimeoutError):
                return []
        return self._cache.get(key, [])


_KEY_DETAIL = re.compile(r"Key \((?P<columns>[^)]*)\)=")
_KEY_VALUES = re.compile(r"Key \((?P<columns>[^()]*)\)=\((?P<values>.*)\) already exists")
_CONSTRAINT_ERRORS = (
    asyncpg.UniqueViolationError,
    asyncpg.CheckViolationError,
    asyncpg.ForeignKeyViolationError,
    asyncpg.RestrictViolationError,
    asyncpg.ExclusionViolationError,
)


def _key_values(detail: str) -> dict[str, str]:
    """column -> value of the unique key a violation's detail reports ("Key (a, b)=(1, x) already
    exists."); nothing when the values cannot be told apart (a value holding ", ")."""
    match = _KEY_VALUES.search(detail)
    if not match:
        return {}
    columns = [column.strip() for column in match["columns"].split(",")]
    values = match["values"].split(", ")
    return dict(zip(columns, values, strict=True)) if len(values) == len(columns) else {}


def word_constraint(
    exc: asyncpg.PostgresError, messages: dict[str, ConstraintMessage], values: dict[str, str] | None = None
) -> DomainError | None:
    """The service's wording (`messages`) of the constraint `exc` violates, its key's values from
    the violation's detail or from `values`; None when it has none."""
    constraint = getattr(exc, "constraint_name", None) or ""
    if constraint not in messages or not isinstance(exc, _CONSTRAINT_ERRORS):
        return None
    return messages[constraint].worded({**_key_values(getattr(exc, "detail", "") or ""), **(values or {})})


@contextlib.contextmanager
def constraint_wording(messages: dict[str, ConstraintMessage], **values: str):
    """Around statements whose callers expect domain errors: a constraint listed in `messages`
    raises its wording there, the error the interceptor would map it to at the end of the RPC.
    `values`: the key's values as the caller has them, for a message naming a free-text value the
    detail cannot be split on."""
    try:
        yield
    except _CONSTRAINT_ERRORS as exc:
        worded = word_constraint(exc, messages, values)
        if worded is None:
            raise
        raise worded from None


def _named_by_client(columns: list[str]) -> list[str]:
    """The columns of a unique key the client chose: (project_id, name) is unique per project, and
    the field to name is `name`; parent ids go only when something else remains."""
    chosen = [c for c in columns if not c.endswith("_id")]
    return chosen or columns


async def from_database_error(
    exc: asyncpg.PostgresError, pool: asyncpg.Pool | None, fields: ConstraintFields
) -> DomainError | None:
    """Maps a constraint or data error to the domain error a client should see; None when the
    error is not the client's doing (then it is INTERNAL)."""
    schema = getattr(exc, "schema_name", None) or ""
    constraint = getattr(exc, "constraint_name", None) or ""
    worded = word_constraint(exc, fields.messages)
    if worded is not None:
        return worded
    if isinstance(exc, asyncpg.UniqueViolationError):
        match = _KEY_DETAIL.search(getattr(exc, "detail", "") or "")
        columns = [c.strip() for c in match["columns"].split(",")] if match else []
        columns = columns or await fields.columns(pool, schema, constraint)
        field = ",".join(_named_by_client(columns))
        scope = [c for c in columns if c not in _named_by_client(columns)]
        where = f" (unique per {', '.join(c.removesuffix('_id') for c in scope)})" if scope else ""
        return AlreadyExists(f"{field or constraint} already exists{where}", field=field)
    if isinstance(exc, asyncpg.CheckViolationError):
        columns = await fields.columns(pool, schema, constraint)
        field = ",".join(columns) or constraint
        return InvalidArgument(field, f"violates {constraint}")
    if isinstance(exc, asyncpg.NotNullViolationError):
        return InvalidArgument(getattr(exc, "column_name", None) or "field", "is required")
    if isinstance(exc, asyncpg.ForeignKeyViolationError | asyncpg.RestrictViolationError):
        return FailedPrecondition(
            f"{getattr(exc, 'table_name', None) or 'resource'} is still referenced or refers to a missing "
            f"resource ({constraint})"
        )
    if isinstance(exc, asyncpg.StringDataRightTruncationError):
        return InvalidArgument(getattr(exc, "column_name", None) or "field", "is too long")
    if isinstance(exc, asyncpg.InvalidTextRepresentationError | asyncpg.DataError):
        return InvalidArgument(getattr(exc, "column_name", None) or "field", "has an invalid value")
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return Aborted("concurrent change; retry the request")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return None
    if isinstance(exc, asyncpg.CannotConnectNowError | asyncpg.AdminShutdownError):
        return Unavailable("the database is not available; retry shortly")
    return None


def status_details(code: grpc.StatusCode, message: str, details: list) -> bytes:
    """The serialized google.rpc.Status for the `grpc-status-details-bin` trailer."""
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return status_pb2.Status(code=code.value[0], message=message, details=packed).SerializeToString()


def internal(request_id: str) -> DomainError:
    error = DomainError(f"internal error (request id {request_id})")
    error.code = grpc.StatusCode.INTERNAL
    return error
