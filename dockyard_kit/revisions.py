"""Where a service's schema is in its two chains of migrations, and where the code says they end,
known without Alembic: a running service never imports Alembic or SQLAlchemy (they weigh tens of
megabytes in every process), and migrating is the work of a child process at start-up
(`python -m dockyard_kit.migrations`, see dockyard_kit/migrations.py).

A head is read from the revision files' `revision` and `down_revision` assignments, parsed, not
imported; the applied revisions from the chains' version tables, through asyncpg.
"""

import ast
import dataclasses
import pathlib

KIT_MIGRATIONS_DIR = pathlib.Path(__file__).parent / "kit_migrations"
KIT_VERSIONS_DIR = KIT_MIGRATIONS_DIR / "versions"
KIT_VERSION_TABLE = "kit_alembic_version"
SERVICE_VERSION_TABLE = "alembic_version"


@dataclasses.dataclass(frozen=True)
class Revisions:
    """Where a schema's two chains are, or end: the kit's and the service's own ("" for none)."""

    kit: str = ""
    service: str = ""

    def __str__(self) -> str:
        """One line for status and logs, e.g. "0005_api_token_names_reusable+kit:0001_kit_tables"
        ("kit:0001_kit_tables" alone for a service without tables of its own)."""
        parts = [self.service] if self.service else []
        if self.kit:
            parts.append(f"kit:{self.kit}")
        return "+".join(parts)


class MultipleHeads(Exception):
    """A chain whose revisions end in more than one place (two revisions revise the same one)."""


def _assigned(path: pathlib.Path) -> dict[str, object]:
    """The revision file's top-level `revision` and `down_revision`, as literals."""
    found = {}
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                found[target.id] = ast.literal_eval(value)
    return found


def chain_head(versions_dir: pathlib.Path) -> str:
    """The newest revision of the chain in `versions_dir` ("" for none, or no such directory, as for
    a service without tables of its own)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    # The files Alembic reads as revisions: Python files not named with a leading underscore.
    for path in sorted(versions_dir.glob("*.py")) if versions_dir.is_dir() else []:
        if path.name.startswith("_"):
            continue
        assigned = _assigned(path)
        if "revision" not in assigned:
            continue
        revisions.add(assigned["revision"])
        down = assigned.get("down_revision")
        revised.update([down] if isinstance(down, str) else down or ())
    heads = revisions - revised
    if len(heads) > 1:
        raise MultipleHeads(f"{versions_dir} has more than one head: {sorted(heads)}")
    return heads.pop() if heads else ""


def head_revision(migrations_dir: pathlib.Path) -> Revisions:
    """The heads the code knows, for a service whose revisions live under `migrations_dir`."""
    return Revisions(kit=chain_head(KIT_VERSIONS_DIR), service=chain_head(migrations_dir / "versions"))


async def current_revision(conn, schema: str) -> Revisions:
    """The schema's applied revisions ("" for a chain not applied yet); `conn` is an asyncpg connection."""

    async def applied(version_table: str) -> str:
        table = f'"{schema}".{version_table}'
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            return ""
        return await conn.fetchval(f"SELECT version_num FROM {table} LIMIT 1") or ""

    return Revisions(kit=await applied(KIT_VERSION_TABLE), service=await applied(SERVICE_VERSION_TABLE))
