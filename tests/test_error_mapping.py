"""The kit's mapping of PostgreSQL constraint errors to what a client sees, in the generic wording or
in the one a service registers for a constraint (pure logic: the errors are built as asyncpg raises
them)."""

import asyncpg
import grpc
import pytest

from dockyard_kit.errors import (
    AlreadyExists,
    ConstraintFields,
    ConstraintMessage,
    constraint_wording,
    from_database_error,
    registered_messages,
)


def unique_violation(detail: str, constraint: str = "uq_x") -> asyncpg.UniqueViolationError:
    error = asyncpg.UniqueViolationError("duplicate key value violates unique constraint")
    error.detail = detail
    error.constraint_name = constraint
    error.schema_name = "projects"
    return error


def worded(messages: dict) -> ConstraintFields:
    fields = ConstraintFields()
    fields.messages = messages
    return fields


WIDGET_NAME = {"uq_widgets_name": ConstraintMessage(AlreadyExists, "widget {name!r} is taken", field="name")}


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


async def test_a_registered_message_words_its_constraint_with_the_key_values():
    mapped = await from_database_error(
        unique_violation("Key (project_id, name)=(1, web) already exists.", "uq_widgets_name"),
        None,
        worded(WIDGET_NAME),
    )
    assert mapped.code == grpc.StatusCode.ALREADY_EXISTS
    assert mapped.field == "name"
    assert mapped.message == "widget 'web' is taken"


async def test_other_constraints_keep_the_generic_wording():
    mapped = await from_database_error(
        unique_violation("Key (project_id, name)=(1, web) already exists."), None, worded(WIDGET_NAME)
    )
    assert mapped.message == "name already exists (unique per project)"


async def test_a_message_naming_a_value_the_detail_does_not_give_falls_back_to_the_generic_wording():
    # A value holding ", " cannot be told from the next one.
    mapped = await from_database_error(
        unique_violation("Key (project_id, name)=(1, web, api) already exists.", "uq_widgets_name"),
        None,
        worded(WIDGET_NAME),
    )
    assert mapped.message == "name already exists (unique per project)"


async def test_the_service_registers_its_wording_by_convention():
    assert registered_messages("probe-without-a-package") == {}
    refusal = asyncpg.RestrictViolationError("a team must keep at least one owner")
    refusal.constraint_name = "team_keeps_an_owner"  # raised by a trigger: no schema, no detail
    mapped = await from_database_error(refusal, None, ConstraintFields("identity"))
    assert mapped.code == grpc.StatusCode.FAILED_PRECONDITION
    assert mapped.message.startswith("a team must keep at least one owner: make another member an owner")
    email = unique_violation(
        "Key (lower(email::text))=(a@example.com) already exists.", "uq_users_email_lower"
    )
    mapped = await from_database_error(email, None, ConstraintFields("identity"))
    assert (mapped.code, mapped.field, mapped.message) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "email",
        "email is already in use",
    )


def test_the_caller_can_give_a_free_text_value_the_detail_cannot_be_split_on():
    violation = unique_violation("Key (project_id, name)=(1, web, api) already exists.", "uq_widgets_name")
    with pytest.raises(AlreadyExists) as raised, constraint_wording(WIDGET_NAME, name="web, api"):
        raise violation
    assert (raised.value.field, raised.value.message) == ("name", "widget 'web, api' is taken")
    other = unique_violation("Key (project_id, name)=(1, web) already exists.")
    with pytest.raises(asyncpg.UniqueViolationError), constraint_wording(WIDGET_NAME, name="web"):
        raise other  # not listed: left for the interceptor's generic wording
