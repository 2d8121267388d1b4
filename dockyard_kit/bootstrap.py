"""The bootstrap step: the one process that holds the database's administrative login and the
platform's master secret. It prepares every service's database role and schema and hands each
service only what that service needs, in a secrets file of its own.

    python -m dockyard_kit.bootstrap --secrets-dir DIR [--service NAME ...] [--skip-reseal]

For each service (every registered one unless --service names some) it:

  1. creates or repairs the login role dockyard_<service> (password derived from the master secret)
     and the schema <service> it owns, with no rights on any other schema;
  2. writes DIR/<service>.secret (JSON, mode 0600; dockyard_kit/service_secrets.py): the role's
     password, the service's own sealing keys, its own Ed25519 key for service credentials and
     every service's credential public keys;
  3. re-seals the service's encrypted columns (services/<name>/sealed_columns.py) under the
     service's own key: values sealed under the master secret itself (before this step existed) or
     under a previous master secret's keys. --skip-reseal leaves this to a later run, or to
     `python -m dockyard_kit.reencrypt` (during a rotation, see there).

Each service then starts with DOCKYARD_SERVICE_SECRET_FILE=DIR/<service>.secret and the database's
address (POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DATABASE, POSTGRES_SSL), and without the master
secret or the administrative login; it runs its migrations itself, as its own role. `make run` runs
this step before it starts the services; a deployment runs it (as a job holding the master secret
and the administrative login) before it starts or upgrades them.

Running it again is harmless, also while the services run: the same master secret gives the same
passwords and keys, the files are replaced whole, and values already under a service's current key
are left alone. Exit status: 0 done, 1 the database could not be reached or a value could not be
re-sealed, 2 invalid settings.
"""

import argparse
import asyncio
import os
import pathlib
import re
import sys
from collections.abc import Iterable, Mapping
from urllib.parse import urlparse, urlunparse

from rich.console import Console
from rich.table import Table

from dockyard_kit import config, db, reencrypt, registry, service_secrets
from dockyard_kit.sealing import registered_columns

SECRETS_FILE_SUFFIX = ".secret"
# What a service must not be given: the administrative login and the master secret.
ADMIN_VARIABLES = ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE")
MASTER_VARIABLES = ("DOCKYARD_SECRET_KEY", "DOCKYARD_SECRET_KEY_FILE", "DOCKYARD_PREVIOUS_SECRET_KEYS_FILE")
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def secrets_file(secrets_dir: pathlib.Path, service: str) -> pathlib.Path:
    return secrets_dir / f"{service}{SECRETS_FILE_SUFFIX}"


def service_environment(env: Mapping[str, str], service: str, secrets_dir: pathlib.Path) -> dict[str, str]:
    """`env` (the bootstrap's own) as `service` should get it: its secrets file instead of the master
    secret and the administrative login (DATABASE_URL keeps only where the database is)."""
    service_env = {
        name: value for name, value in env.items() if name not in ADMIN_VARIABLES + MASTER_VARIABLES
    }
    if service_env.get("DATABASE_URL"):
        url = urlparse(service_env["DATABASE_URL"])
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        host += f":{url.port}" if url.port else ""
        service_env["DATABASE_URL"] = urlunparse(url._replace(netloc=host))
    service_env["DOCKYARD_SERVICE_SECRET_FILE"] = str(secrets_file(secrets_dir, service))
    return service_env


async def bootstrap_service(
    settings: config.Settings,
    service: str,
    secrets_dir: pathlib.Path,
    *,
    services: Iterable[str],
    reseal: bool,
    console: Console,
) -> int:
    """Role, schema and secrets file of one service, then its values re-sealed; how many were."""
    await db.bootstrap_service_role(settings, service)
    secrets = service_secrets.derive(
        service, settings.secret_key(), settings.previous_secret_keys(), services=services
    )
    secrets.write(secrets_file(secrets_dir, service))
    columns = registered_columns(service)
    if not reseal or not columns:
        return 0
    reports = await reencrypt.reencrypt_service(
        settings, service, columns, batch_size=reencrypt.DEFAULT_BATCH_SIZE, dry_run=False, console=console
    )
    return sum(report.reencrypted for report in reports)


async def run(
    settings: config.Settings, services: list[str], secrets_dir: pathlib.Path, *, reseal: bool
) -> int:
    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    # Every service verifies the credentials of every registered one (and of any named here).
    verifiers = list(dict.fromkeys([*registry.SERVICE_NAMES, *services]))
    table = Table(title="Dockyard services bootstrapped")
    for heading in ("service", "database role", "schema", "values re-sealed", "secrets file"):
        table.add_column(heading, no_wrap=heading != "secrets file")
    for service in services:
        try:
            resealed = await bootstrap_service(
                settings, service, secrets_dir, services=verifiers, reseal=reseal, console=console
            )
        except reencrypt.CannotReencrypt as exc:
            errors.print(f"[red]error:[/] cannot re-seal {exc}", highlight=False)
            return 1
        except db.DATABASE_ERRORS as exc:
            errors.print(
                f"[red]error:[/] cannot bootstrap {service}: the database did not accept the administrative"
                f" login or the change: {type(exc).__name__}: {exc}",
                highlight=False,
            )
            return 1
        table.add_row(
            service,
            db.role_name(service),
            service,
            str(resealed) if reseal else "skipped",
            str(secrets_file(secrets_dir, service)),
        )
    console.print(table)
    console.print(
        "Start each service with DOCKYARD_SERVICE_SECRET_FILE set to its file, and without"
        f" {', '.join(MASTER_VARIABLES + ADMIN_VARIABLES)}.",
        highlight=False,
    )
    return 0


def _service_name(value: str) -> str:
    if not _SERVICE_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not a service name: {value!r}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dockyard_kit.bootstrap",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--secrets-dir",
        type=pathlib.Path,
        default=os.environ.get("DOCKYARD_SERVICE_SECRETS_DIR") or None,
        help="where the services' secrets files go (default: $DOCKYARD_SERVICE_SECRETS_DIR)",
    )
    parser.add_argument(
        "--service",
        action="append",
        type=_service_name,
        help=f"only this service (repeatable; default: {', '.join(registry.SERVICE_NAMES)})",
    )
    parser.add_argument(
        "--skip-reseal", action="store_true", help="prepare roles and files only; re-seal no values"
    )
    args = parser.parse_args(argv)
    if args.secrets_dir is None:
        parser.error("--secrets-dir (or DOCKYARD_SERVICE_SECRETS_DIR) is required")
    settings = config.load()
    try:
        settings.secret_key()
        settings.previous_secret_keys()
    except config.ConfigError as exc:
        config.exit_invalid(exc)
    services = list(dict.fromkeys(args.service or registry.SERVICE_NAMES))
    secrets_dir = args.secrets_dir.resolve()
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    sys.exit(asyncio.run(run(settings, services, secrets_dir, reseal=not args.skip_reseal)))


if __name__ == "__main__":
    main()
