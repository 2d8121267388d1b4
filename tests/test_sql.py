"""The SQL builders number parameters in the order values are given, and only the conditions added
enter the query."""

import datetime
import uuid

import pytest

from dockyard_kit import sql

CURSOR = (datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC), uuid.UUID(int=7))


def test_no_condition_means_no_where():
    conditions = sql.Conditions()
    assert conditions.where == ""
    assert conditions.args == []


def test_conditions_number_their_parameters_in_order():
    conditions = sql.Conditions()
    conditions.add("project_id = $?", "p")
    conditions.add("deleted_at IS NULL")
    conditions.add("(created_at, id) < ($?, $?)", *CURSOR)
    assert conditions.where == "WHERE project_id = $1 AND deleted_at IS NULL AND (created_at, id) < ($2, $3)"
    assert conditions.args == ["p", *CURSOR]


def test_a_param_can_be_used_twice_and_after_the_conditions():
    conditions = sql.Conditions()
    conditions.add("role = $?", "admin")
    pattern = conditions.param("ab%")
    conditions.add(f"(username LIKE {pattern} OR email LIKE {pattern})")
    assert conditions.where == "WHERE role = $1 AND (username LIKE $2 OR email LIKE $2)"
    assert conditions.param(10) == "$3"
    assert conditions.args == ["admin", "ab%", 10]


def test_placeholders_and_values_must_agree():
    with pytest.raises(ValueError):
        sql.Conditions().add("(created_at, id) < ($?, $?)", CURSOR[0])


def test_newest_first_page_on_the_first_page():
    conditions = sql.Conditions()
    conditions.add("project_id = $?", "p")
    assert (
        conditions.newest_first_page(None, 51)
        == "WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    )
    assert conditions.args == ["p", 51]


def test_newest_first_page_after_a_cursor_with_an_alias():
    conditions = sql.Conditions()
    assert conditions.newest_first_page(CURSOR, 11, alias="c") == (
        "WHERE (c.created_at, c.id) < ($1, $2) ORDER BY c.created_at DESC, c.id DESC LIMIT $3"
    )
    assert conditions.args == [*CURSOR, 11]


def test_update_set_numbers_after_the_key_and_touches_updated_at():
    assignments, args = sql.update_set({"name": "web", "config": {"a": 1}}, json_columns=("config",))
    assert assignments == "name = $2, config = $3::jsonb, updated_at = now()"
    assert args == ["web", '{"a": 1}']
