"""`python -m tests.support.taken_port_launcher KIND PORT`: `make run`'s launcher, except that the
first port it hands to a child of KIND (postgres, nats or service) is PORT, which the test holds
taken: what happens when another program grabs a port between the launcher's choice and the
child's bind, made certain instead of rare."""

import sys

from dockyard_kit.stack import __main__ as launcher
from dockyard_kit.stack import components


def hand_taken_port_once(cls: type, port: int) -> None:
    """The first `cls(data_dir, port, ...)` gets `port` instead of the one the launcher chose."""
    original = cls.__init__
    handed = False

    def init(self, data_dir, chosen_port, *args, **kwargs):
        nonlocal handed
        original(self, data_dir, chosen_port if handed else port, *args, **kwargs)
        handed = True

    cls.__init__ = init


def hand_taken_address_once(port: int) -> None:
    """The first service address the launcher chooses (identity's) is on `port`."""
    original = launcher.free_port
    handed = False

    def free_port(*args, **kwargs) -> int:
        nonlocal handed
        if handed:
            return original(*args, **kwargs)
        handed = True
        return port

    launcher.free_port = free_port


def main(kind: str, port: int) -> int:
    if kind == "postgres":
        hand_taken_port_once(components.Postgres, port)
    elif kind == "nats":
        hand_taken_port_once(components.Nats, port)
    elif kind == "service":
        hand_taken_address_once(port)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return launcher.main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
