"""Building parameterized SQL for asyncpg: WHERE conditions and UPDATE's SET list with their
parameters numbered ($1, $2, ...) in one place, so queries that only include the filters given
never count parameters by hand."""

import datetime
import json
import uuid
from collections.abc import Iterable


class Conditions:
    """WHERE conditions joined by AND, and the arguments their parameters stand for.

    `add("status = $?", status)` numbers each `$?` with the next parameter; `param(value)` gives a
    parameter's "$n" to use more than once or outside the WHERE clause (a LIMIT)."""

    def __init__(self) -> None:
        self.args: list = []
        self._parts: list[str] = []

    def param(self, value) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, sql: str, *values) -> None:
        if sql.count("$?") != len(values):
            raise ValueError(f"{sql!r} has {sql.count('$?')} placeholders for {len(values)} values")
        for value in values:
            sql = sql.replace("$?", self.param(value), 1)
        self._parts.append(sql)

    @property
    def where(self) -> str:
        """The WHERE clause of the conditions added, or "" when there is none."""
        return f"WHERE {' AND '.join(self._parts)}" if self._parts else ""

    def newest_first_page(
        self,
        after: tuple[datetime.datetime, uuid.UUID] | None,
        limit: int,
        *,
        alias: str = "",
        time_column: str = "created_at",
    ) -> str:
        """The WHERE, ORDER BY and LIMIT of a newest-first page (dockyard_kit/pagination.py): rows
        strictly after the keyset cursor `after` (Page.newest_first_after; None: from the start)
        in (time_column DESC, id DESC) order, the order and the cursor kept together here.
        `alias`: the table's alias in the query, if any."""
        prefix = f"{alias}." if alias else ""
        if after is not None:
            self.add(f"({prefix}{time_column}, {prefix}id) < ($?, $?)", *after)
        return f"{self.where} ORDER BY {prefix}{time_column} DESC, {prefix}id DESC LIMIT {self.param(limit)}"


def update_set(changes: dict, *, json_columns: Iterable[str] = ()) -> tuple[str, list]:
    """The SET list of an UPDATE of one row: `changes` (column -> value) as parameters $2, $3, ...
    ($1 is the row's key in the WHERE), then updated_at = now(); and their arguments. JSON columns
    take their value as jsonb text."""
    json_columns = set(json_columns)
    parts, args = [], []
    for position, (column, value) in enumerate(changes.items(), start=2):
        if column in json_columns:
            parts.append(f"{column} = ${position}::jsonb")
            args.append(json.dumps(value))
        else:
            parts.append(f"{column} = ${position}")
            args.append(value)
    return ", ".join([*parts, "updated_at = now()"]), args
