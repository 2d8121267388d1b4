"""Settings only the identity service reads."""

from typing import Annotated

from pydantic import Field

from dockyard_kit.config import Settings


class IdentitySettings(Settings):
    # How long an access token lives, and a refresh token.
    DOCKYARD_ACCESS_TOKEN_TTL_SECONDS: Annotated[int, Field(ge=30, le=86400)] = 900
    DOCKYARD_REFRESH_TOKEN_TTL_SECONDS: Annotated[int, Field(ge=300)] = 30 * 86400
