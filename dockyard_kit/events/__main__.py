"""Operator commands of the events backbone, with the service's settings from the environment:

    python -m dockyard_kit.events relay --service projects
    python -m dockyard_kit.events parked list --service audit [--consumer trail] [--all]
    python -m dockyard_kit.events parked replay --service audit --id 7 --handler services.audit.trail:record

`relay` runs a service's outbox relay as a process of its own (services run it in-process; replicas
stand by). It expects the service's role and tables to exist: the service's start-up makes them.
"""

import argparse
import asyncio
import importlib
import signal

from rich.console import Console
from rich.table import Table

from dockyard_kit import config, db, logs
from dockyard_kit.events.nats import NatsLink
from dockyard_kit.events.parked import list_parked, replay_parked
from dockyard_kit.events.relay import OutboxRelay


async def run_relay(settings: config.Settings, service: str) -> None:
    pool = await db.create_pool(settings, service)
    link = NatsLink.from_settings(settings, service, name=f"{service}-relay")
    link.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    relay = asyncio.create_task(OutboxRelay(pool, link).run(), name="outbox-relay")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([relay, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, stopping):
            task.cancel()
        await asyncio.gather(relay, stopping, return_exceptions=True)
        await link.close()
        await pool.close()


async def show_parked(
    settings: config.Settings, service: str, consumer: str | None, everything: bool
) -> None:
    pool = await db.create_pool(settings, service)
    try:
        parked = await list_parked(pool, consumer=consumer, include_replayed=everything)
    finally:
        await pool.close()
    table = Table(title=f"Parked events of {service}")
    for column in (
        "id",
        "consumer",
        "event id",
        "subject",
        "deliveries",
        "parked at",
        "replayed at",
        "error",
    ):
        table.add_column(column)
    for event in parked:
        table.add_row(
            str(event.id),
            event.consumer,
            str(event.event_id),
            event.subject,
            str(event.deliveries),
            f"{event.parked_at:%Y-%m-%d %H:%M:%S}",
            f"{event.replayed_at:%Y-%m-%d %H:%M:%S}" if event.replayed_at else "",
            # The last line of a traceback names the exception.
            event.error.strip().splitlines()[-1] if event.error.strip() else "",
        )
    Console().print(table)


async def replay(settings: config.Settings, service: str, parked_id: int, handler_path: str) -> None:
    module_name, _, attribute = handler_path.partition(":")
    handler = getattr(importlib.import_module(module_name), attribute)
    pool = await db.create_pool(settings, service)
    try:
        applied = await replay_parked(pool, parked_id, handler)
    finally:
        await pool.close()
    verdict = "applied" if applied else "already applied before; not applied again"
    Console().print(f"parked event {parked_id}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dockyard_kit.events")
    commands = parser.add_subparsers(dest="command", required=True)
    relay = commands.add_parser("relay", help="run a service's outbox relay")
    relay.add_argument("--service", required=True, help="the service, i.e. its schema")
    parked = commands.add_parser("parked", help="list or replay parked events")
    parked_commands = parked.add_subparsers(dest="action", required=True)
    listing = parked_commands.add_parser("list", help="list parked events")
    listing.add_argument("--service", required=True)
    listing.add_argument("--consumer")
    listing.add_argument("--all", action="store_true", help="include replayed events")
    replaying = parked_commands.add_parser("replay", help="run the consumer's handler on a parked event")
    replaying.add_argument("--service", required=True)
    replaying.add_argument("--id", type=int, required=True, help="the parked event's id (see list)")
    replaying.add_argument("--handler", required=True, help="the consumer's handler, as module:function")
    args = parser.parse_args()

    settings = config.load()
    if args.command == "relay":
        logs.configure(args.service, settings.DOCKYARD_LOG_LEVEL)
        asyncio.run(run_relay(settings, args.service))
    elif args.action == "list":
        asyncio.run(show_parked(settings, args.service, args.consumer, args.all))
    else:
        asyncio.run(replay(settings, args.service, args.id, args.handler))


if __name__ == "__main__":
    main()
