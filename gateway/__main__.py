"""`python -m gateway`: writes Envoy's configuration for the Dockyard gateway (see gateway/envoy.py)."""

import argparse
import pathlib
import sys

from dockyard_kit import config, registry
from dockyard_kit.contract import DESCRIPTOR_SET
from gateway.envoy import (
    DEFAULT_JWT_AUDIENCE,
    DEFAULT_JWT_ISSUER,
    DEFAULT_SERVICE_ADDRESSES,
    split_address,
    write_config,
)

DEFAULT_ADMIN_PORT = 9901


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="Write Envoy's configuration for the Dockyard gateway, generated from the contract.",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=pathlib.Path,
        default=DESCRIPTOR_SET.parent / "envoy.yaml",
        help="YAML file to write (default: %(default)s)",
    )
    parser.add_argument(
        "--descriptor-set",
        type=pathlib.Path,
        default=DESCRIPTOR_SET,
        help="from `make proto` (default: %(default)s)",
    )
    parser.add_argument(
        "--listen",
        default=f"127.0.0.1:{registry.DEFAULT_GATEWAY_PORT}",
        help="HTTP/JSON and gRPC address (default: %(default)s)",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=DEFAULT_ADMIN_PORT,
        help="Envoy admin port, on 127.0.0.1 (default: %(default)s)",
    )
    for name, address in DEFAULT_SERVICE_ADDRESSES.items():
        parser.add_argument(
            f"--{name}",
            default=address,
            metavar="HOST:PORT",
            help=f"the {name} service (default: %(default)s)",
        )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=1 << 20,
        help="HTTP request body limit (default: %(default)s)",
    )
    parser.add_argument(
        "--jwt-issuer",
        default=DEFAULT_JWT_ISSUER,
        help="DOCKYARD_JWT_ISSUER of the tokens (default: %(default)s)",
    )
    parser.add_argument(
        "--jwt-audience",
        default=DEFAULT_JWT_AUDIENCE,
        help="DOCKYARD_JWT_AUDIENCE of the tokens (default: %(default)s)",
    )
    parser.add_argument(
        "--gateway-secret-file",
        type=pathlib.Path,
        help="the services' DOCKYARD_GATEWAY_SECRET_FILE: the credential the gateway adds to every request, "
        "without which the services ignore its X-Forwarded-For",
    )
    args = parser.parse_args(argv)
    gateway_secret = b""
    if args.gateway_secret_file is not None:
        try:
            gateway_secret = config.strong_secret(
                args.gateway_secret_file.read_bytes().strip(), "--gateway-secret-file"
            )
        except (OSError, config.ConfigError) as exc:
            parser.error(str(exc))
        if not (gateway_secret.isascii() and gateway_secret.decode().isprintable()):
            parser.error("--gateway-secret-file: the secret must be printable ASCII (it travels as a header)")

    listen_host, listen_port = split_address(args.listen)
    path = write_config(
        args.output,
        descriptor_set=args.descriptor_set,
        listen_host=listen_host,
        listen_port=listen_port,
        admin_port=args.admin_port,
        service_addresses={name: getattr(args, name) for name in DEFAULT_SERVICE_ADDRESSES},
        max_request_bytes=args.max_request_bytes,
        jwt_issuer=args.jwt_issuer,
        jwt_audience=args.jwt_audience,
        gateway_secret=gateway_secret.decode(),
    )
    if not gateway_secret:
        print(
            "warning: no --gateway-secret-file: the services will see every client as the gateway's address",
            file=sys.stderr,
        )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
