"""Settings only the audit service reads."""

import pathlib
from typing import Annotated

from pydantic import Field

from dockyard_kit.config import Settings


class AuditSettings(Settings):
    # -- the trail's partitions and retention (domain/retention.py) --------------------------------
    # Where `make run` keeps its data (the kit's stack reads the same variable): the default home of
    # the archive.
    DOCKYARD_DATA_DIR: pathlib.Path = pathlib.Path(".dockyard")
    # Months whose every entry is older than this are archived, then dropped.
    DOCKYARD_AUDIT_RETENTION_MONTHS: Annotated[int, Field(ge=1, le=1200)] = 12
    # Where they are archived; unset: <DOCKYARD_DATA_DIR>/audit-archive.
    DOCKYARD_AUDIT_ARCHIVE_DIR: pathlib.Path | None = None
    # How often retention runs (each run also makes the coming months' partitions).
    DOCKYARD_AUDIT_RETENTION_INTERVAL_SECONDS: Annotated[float, Field(gt=0)] = 86400.0

    def audit_archive_dir(self) -> pathlib.Path:
        return self.DOCKYARD_AUDIT_ARCHIVE_DIR or self.DOCKYARD_DATA_DIR / "audit-archive"
