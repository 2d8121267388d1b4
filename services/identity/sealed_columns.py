"""The encrypted columns of the identity schema: the JWT signing keys' private halves (sealed by
domain/tokens.py under identity's own key ring), re-sealed by the bootstrap step and by
`python -m dockyard_kit.reencrypt`."""

from dockyard_kit.sealing import SealedColumn

COLUMNS = (
    # Raw bytes, bound to the key's kid, with the id of the key it is sealed under beside it (which
    # tells the issuer whether it can still sign with it).
    SealedColumn(
        "signing_keys",
        "private_key_encrypted",
        id_column="kid",
        id_type="text",
        binary=True,
        key_id_column="master_key_id",
    ),
)
