"""Settings only the notifications service reads."""

import pathlib
from typing import Annotated

from pydantic import Field

from dockyard_kit.config import Settings


class NotificationsSettings(Settings):
    # -- the dispatcher (domain/dispatcher.py) -------------------------------------------------------
    # The first retry waits about this long; each further one twice as long as the one before, with
    # jitter, up to DOCKYARD_NOTIFICATIONS_RETRY_MAX_SECONDS between two tries.
    DOCKYARD_NOTIFICATIONS_RETRY_BASE_SECONDS: Annotated[float, Field(gt=0, le=3600)] = 30.0
    DOCKYARD_NOTIFICATIONS_RETRY_MAX_SECONDS: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    # A notification still not accepted this long after it was made is given up (status FAILED).
    DOCKYARD_NOTIFICATIONS_GIVE_UP_SECONDS: Annotated[float, Field(gt=0)] = 86400.0
    # How long one send may take (connect, TLS, the receiver's answer) before it counts as failed.
    DOCKYARD_NOTIFICATIONS_SEND_TIMEOUT_SECONDS: Annotated[float, Field(gt=0, le=300)] = 10.0
    # A dispatcher's hold on a delivery it is sending; a crashed one's deliveries are tried again
    # after it. Longer than a send can take.
    DOCKYARD_NOTIFICATIONS_LEASE_SECONDS: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # How often the dispatcher looks for due deliveries when nothing woke it.
    DOCKYARD_NOTIFICATIONS_POLL_SECONDS: Annotated[float, Field(gt=0, le=60)] = 1.0
    # Sends in flight at once per replica.
    DOCKYARD_NOTIFICATIONS_CONCURRENCY: Annotated[int, Field(ge=1, le=256)] = 16
    # Delivered and given-up deliveries (and their attempts) are purged this long after they were
    # made (domain/retention.py); a certificate's warning stays until the certificate has expired.
    DOCKYARD_NOTIFICATIONS_DELIVERY_RETENTION_DAYS: Annotated[float, Field(ge=1)] = 90.0
    # -- certificate expiry (domain/expiry.py) ------------------------------------------------------
    # How often certificates are compared with the channels' expiry windows.
    DOCKYARD_NOTIFICATIONS_EXPIRY_CHECK_SECONDS: Annotated[float, Field(gt=0)] = 3600.0
    # -- email --------------------------------------------------------------------------------------
    # CA certificates (PEM) that SMTP servers' certificates are verified against besides the
    # system's: an internal mail relay's own CA.
    DOCKYARD_NOTIFICATIONS_SMTP_CA_FILE: pathlib.Path | None = None
