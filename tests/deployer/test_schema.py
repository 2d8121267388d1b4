"""The deployer's tables as the seed defines DEPLOYMENT and DEPLOYMENT_LOG: the status and level
enums enforced, the indexes, deployment_logs hash-partitioned into 4, log lines going with their
deployment (CASCADE), and a deleted user's deployments kept with triggered_by NULL (by event: see
test_authorization_and_cascades)."""

import datetime
import uuid

import asyncpg
import pytest

from tests.support.resources import sql


def indexes(stack, table: str) -> dict[str, str]:
    rows = sql(
        stack,
        "deployer",
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'deployer' AND tablename = $1",
        table,
    )
    return {row["indexname"]: row["indexdef"] for row in rows}


def test_deployments_indexes_follow_the_seed(stack):
    definitions = " | ".join(indexes(stack, "deployments").values())
    assert "(application_id, started_at DESC)" in definitions
    assert "USING btree (status)" in definitions and "USING btree (triggered_by)" in definitions
    # The primary key.
    assert "CREATE UNIQUE INDEX deployments_pkey ON deployer.deployments USING btree (id)" in definitions


def test_deployment_logs_are_hash_partitioned_four_ways_with_the_seeds_indexes(stack):
    partitions = sql(
        stack,
        "deployer",
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
        " WHERE p.relname = 'deployment_logs' ORDER BY c.relname",
    )
    assert [row["relname"] for row in partitions] == [f"deployment_logs_{n}" for n in range(4)]
    assert all("modulus 4" in row["bound"].lower() for row in partitions)
    strategy = sql(
        stack,
        "deployer",
        "SELECT partstrat FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid"
        " WHERE c.relname = 'deployment_logs'",
    )
    assert strategy[0]["partstrat"] in ("h", b"h")  # "char": asyncpg may give bytes
    definitions = " | ".join(indexes(stack, "deployment_logs").values())
    assert "(deployment_id, created_at DESC)" in definitions and "USING btree (level)" in definitions


def insert_deployment(stack, **columns) -> uuid.UUID:
    values = {"application_id": uuid.uuid4(), "project_id": uuid.uuid4(), **columns}
    names = ", ".join(values)
    params = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    return sql(
        stack,
        "deployer",
        f"INSERT INTO deployments ({names}) VALUES ({params}) RETURNING id",
        *values.values(),
    )[0]["id"]


@pytest.mark.parametrize("status", ["cancelled", "running", ""])
def test_a_status_outside_the_seeds_enum_is_refused(stack, status):
    # Ended, so that only the status is wrong (PostgreSQL checks constraints in name order).
    with pytest.raises(asyncpg.CheckViolationError, match="check_deployment_status"):
        insert_deployment(stack, status=status, completed_at=datetime.datetime.now(datetime.UTC))


def test_a_level_outside_the_seeds_enum_is_refused_and_lines_go_with_their_deployment(stack):
    deployment_id = insert_deployment(stack)
    with pytest.raises(asyncpg.CheckViolationError, match="check_deployment_log_level"):
        sql(
            stack,
            "deployer",
            "INSERT INTO deployment_logs (deployment_id, level, message) VALUES ($1, 'fatal', 'x')",
            deployment_id,
        )
    for level in ("debug", "info", "warn", "error"):
        sql(
            stack,
            "deployer",
            "INSERT INTO deployment_logs (deployment_id, level, message) VALUES ($1, $2, 'x')",
            deployment_id,
            level,
        )
    sql(stack, "deployer", "DELETE FROM deployments WHERE id = $1", deployment_id)
    left = sql(
        stack, "deployer", "SELECT count(*) FROM deployment_logs WHERE deployment_id = $1", deployment_id
    )
    assert left[0][0] == 0


def test_a_finished_deployment_has_its_completion_time_and_a_running_one_has_none(stack):
    with pytest.raises(asyncpg.CheckViolationError, match="check_deployment_completed"):
        insert_deployment(stack, status="success")
    with pytest.raises(asyncpg.CheckViolationError, match="check_deployment_commit_sha"):
        insert_deployment(stack, commit_sha="not-a-sha")
