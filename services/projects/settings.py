"""Settings only the projects service reads."""

from typing import Annotated

from pydantic import Field

from dockyard_kit.config import Settings


class ProjectsSettings(Settings):
    # How often the application_stats materialized view is refreshed.
    DOCKYARD_STATS_REFRESH_SECONDS: Annotated[float, Field(gt=0)] = 30.0
