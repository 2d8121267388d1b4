"""What the notifications tests share: a local HTTP receiver (the standard library's http.server in
a thread, on a free loopback port) that records what it is sent and can answer with an error or
not listen at all; a local SMTP server (aiosmtpd) that requires STARTTLS and a login; channels made
over REST; and the delivery log read straight from the service."""

import contextlib
import dataclasses
import http.server
import json
import ssl
import threading
import time

import grpc
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from dockyard.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from dockyard_kit.stack.components import free_port
from tests.support.calls import TIMEOUT
from tests.support.resources import call, unique

CHANNELS = "/v1/notification-channels"
SIGNING_SECRET = "a-signing-secret-of-32-characters"


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Records every POST. `status` is what it answers (200 unless told otherwise); `stop()` and
    `start()` take it off and back on its port (connection refused in between); `hold()` keeps the
    requests that come (recorded in `held`) unanswered until `release()`, which refuses them (503)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.received: list[Received] = []
        self.held: list[Received] = []
        self._holding: threading.Event | None = None
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                holding = receiver._holding
                if holding is not None:
                    with receiver._lock:
                        receiver.held.append(Received(self.path, dict(self.headers.items()), body))
                    holding.wait()
                    with contextlib.suppress(OSError):  # its sender may have died meanwhile
                        self.send_error(503)
                    return
                with receiver._lock:
                    status = receiver.status
                    if status < 300:
                        receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"down for maintenance")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self) -> None:
        self._holding = threading.Event()

    def release(self) -> None:
        holding, self._holding = self._holding, None
        if holding is not None:
            holding.set()

    def accepted(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class SmtpInbox:
    """aiosmtpd on a free loopback port, requiring STARTTLS (with the certificate given) and then a
    login as `username`/`password`; keeps every message it accepts, and refuses mail to nobody@."""

    def __init__(self, certificate_file: str, key_file: str, username: str, password: str) -> None:
        self.port = free_port()
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate_file, key_file)
        inbox = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.startswith("nobody@"):
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                inbox.messages.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
                )
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == username and auth_data.password.decode() == password
            if ok:
                inbox.logins.append(username)
            return AuthResult(success=ok)

        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_require_tls=True,
        )
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def webhook_channel(owner: dict, url: str, events: list[str], **fields) -> dict:
    return {
        **owner,
        "name": unique("hook"),
        "kind": "CHANNEL_KIND_WEBHOOK",
        "webhook": {"url": url, "signing_secret": SIGNING_SECRET},
        "events": events,
        **fields,
    }


def create_channel(stack, account, body: dict) -> dict:
    status, created = call(stack, account, "POST", CHANNELS, body)
    assert status == 200, created
    return created


@dataclasses.dataclass
class Direct:
    """NotificationChannelService straight to the service."""

    stub: notifications_pb2_grpc.NotificationChannelServiceStub

    def deliveries(self, account, channel_id: str) -> list[notifications_pb2.Delivery]:
        request = notifications_pb2.ListDeliveriesRequest(channel_id=channel_id, page_size=100)
        return list(self.stub.ListDeliveries(request, metadata=account.metadata, timeout=TIMEOUT).deliveries)

    def wait_settled(self, account, channel_id: str, count: int, timeout: float = 60) -> list:
        """The channel's deliveries once `count` of them exist and none is pending."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.deliveries(account, channel_id)
            pending = notifications_pb2.DELIVERY_STATUS_PENDING
            if len(found) >= count and all(d.status != pending for d in found):
                return found
            assert time.monotonic() < deadline, f"not settled within {timeout}s: {found}"
            time.sleep(0.2)


def direct(stack, address: str | None = None) -> Direct:
    """The stack's notifications service, or the replica at `address`."""
    channel = grpc.insecure_channel(address or stack.addresses["notifications"])
    return Direct(notifications_pb2_grpc.NotificationChannelServiceStub(channel))
