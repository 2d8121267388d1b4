"""The encrypted columns of the notifications schema, sealed with dockyard_kit.sealing and re-sealed
after a key rotation by `python -m dockyard_kit.reencrypt`."""

from dockyard_kit.sealing import SealedColumn

COLUMNS = (
    # A channel's secrets as JSON: webhook URLs, the signing secret, the SMTP password.
    SealedColumn("channels", "secrets"),
)
