"""A real DNS server for the domain-verification tests (dnslib's, on 127.0.0.1, UDP and TCP on one
port): it answers TXT queries from the records a test sets, NXDOMAIN for every other name, and
counts the queries it got. The projects service reaches it through DOCKYARD_DNS_RESOLVER."""

import socket
import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

_QUIET = DNSLogger(logf=lambda _line: None)


class TxtRecords(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self._lock = threading.Lock()

    def set(self, name: str, *values: str) -> None:
        """`name`'s TXT records (one string each); none removes the name."""
        with self._lock:
            if values:
                self.records[name.rstrip(".").lower()] = list(values)
            else:
                self.records.pop(name.rstrip(".").lower(), None)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            self.queries.append(name)
            values = list(self.records.get(name, []))
        if not values:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


def _free_port() -> int:
    """A port free for UDP and TCP alike on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class DnsServer:
    """Started on a free port; `records` is what it serves; `address` is DOCKYARD_DNS_RESOLVER."""

    def __init__(self) -> None:
        self.records = TxtRecords()
        self.port = _free_port()
        self._servers = [
            DNSServer(self.records, address="127.0.0.1", port=self.port, tcp=tcp, logger=_QUIET)
            for tcp in (False, True)
        ]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "DnsServer":
        for server in self._servers:
            server.start_thread()
        return self

    def __exit__(self, *exc) -> None:
        for server in self._servers:
            server.stop()
