"""The trail's table as the seed defines AUDIT_LOG: its attributes and types (bigserial id, INET
address, JSONB details), resource_type limited to the seed's enum, the seed's indexes, the search
vector kept by its trigger, and range partitioning by month on created_at."""

import asyncpg
import pytest

from tests.support.resources import sql


def columns(stack) -> dict[str, str]:
    rows = sql(
        stack,
        "audit",
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'audit' AND table_name = 'audit_logs'",
    )
    return {row["column_name"]: (row["data_type"], row["is_nullable"]) for row in rows}


def test_the_attributes_are_the_seeds(stack):
    found = columns(stack)
    assert found["id"] == ("bigint", "NO")
    assert found["user_id"] == ("uuid", "YES")  # SET NULL when the user is deleted
    assert found["action"] == ("character varying", "NO")
    assert found["resource_type"] == ("character varying", "NO")
    assert found["resource_id"] == ("uuid", "YES")
    assert found["details"][0] == "jsonb"
    assert found["ip_address"][0] == "inet"
    assert found["user_agent"][0] == "text"
    assert found["created_at"] == ("timestamp with time zone", "NO")
    assert found["search_vector"][0] == "tsvector"
    [default] = sql(stack, "audit", "SELECT pg_get_serial_sequence('audit.audit_logs', 'id') AS seq")
    assert default["seq"] == "audit.audit_logs_id_seq"


def test_the_seeds_indexes_exist(stack):
    rows = sql(
        stack,
        "audit",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'audit' AND tablename = 'audit_logs'",
    )
    definitions = " | ".join(row["indexdef"] for row in rows)
    assert "(user_id, created_at DESC)" in definitions
    assert "(resource_type, resource_id)" in definitions
    assert "(action varchar_pattern_ops)" in definitions
    assert "(created_at DESC, id DESC)" in definitions
    assert "USING gin (search_vector)" in definitions


def test_it_is_range_partitioned_by_month_on_created_at_with_a_default_partition(stack):
    [table] = sql(
        stack,
        "audit",
        "SELECT partstrat, pg_get_partkeydef(c.oid) AS key FROM pg_partitioned_table t"
        " JOIN pg_class c ON c.oid = t.partrelid WHERE c.oid = 'audit.audit_logs'::regclass",
    )
    assert table["partstrat"] in ("r", b"r") and table["key"] == "RANGE (created_at)"
    [default] = sql(
        stack,
        "audit",
        "SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname = 'audit_logs_default'",
    )
    assert default["bound"] == "DEFAULT"


@pytest.mark.parametrize("resource_type", ["widget", "env_var", ""])
def test_resource_type_outside_the_seeds_enum_is_refused(stack, resource_type):
    with pytest.raises(asyncpg.CheckViolationError, match="ck_audit_logs_resource_type"):
        sql(
            stack,
            "audit",
            "INSERT INTO audit_logs (action, resource_type, event_id) VALUES ('x.y.z', $1, gen_random_uuid())",
            resource_type,
        )


def test_the_trigger_keeps_the_search_vector_from_action_details_username_and_user_agent(stack):
    [row] = sql(
        stack,
        "audit",
        "INSERT INTO audit_logs (action, resource_type, details, username, user_agent, event_id)"
        " VALUES ('projects.volume.created', 'application', '{\"note\": \"kangaroo\"}', 'wallaby', 'emu/1.0',"
        " gen_random_uuid()) RETURNING id, search_vector::text AS vector",
    )
    for word in ("volum", "kangaroo", "wallabi", "emu"):
        assert f"'{word}" in row["vector"], row["vector"]
    [updated] = sql(
        stack,
        "audit",
        'UPDATE audit_logs SET details = \'{"note": "platypus"}\' WHERE id = $1 RETURNING search_vector::text AS vector',
        row["id"],
    )
    assert "'platypus'" in updated["vector"] and "kangaroo" not in updated["vector"]
    sql(stack, "audit", "DELETE FROM audit_logs WHERE id = $1", row["id"])
