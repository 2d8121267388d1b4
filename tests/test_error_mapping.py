"""The kit's mapping of PostgreSQL constraint errors to what a client sees (pure logic: the errors
are built as asyncpg raises them)."""

import asyncpg
import grpc

from dockyard_kit.errors import ConstraintFields, from_database_error


def unique_violation(detail: str) -> asyncpg.UniqueViolationError:
    error = asyncpg.UniqueViolationError("duplicate key value violates unique constraint")
    error.detail = detail
    error.constraint_name = "uq_x"
    error.schema_name = "projects"
    return error


async def test_a_unique_key_scoped_by_a_parent_names_the_field_the_client_chose():
    mapped = await from_database_error(
        unique_violation("Key (project_id, name)=(1, web) already exists."), None, ConstraintFields()
    )
    assert mapped.code == grpc.StatusCode.ALREADY_EXISTS
    assert mapped.field == "name"
    assert mapped.message == "name already exists (unique per project)"


async def test_a_key_of_ids_only_names_them_all():
    mapped = await from_database_error(
        unique_violation("Key (team_id, user_id)=(1, 2) already exists."), None, ConstraintFields()
    )
    assert mapped.field == "team_id,user_id"
    assert mapped.message == "team_id,user_id already exists"
