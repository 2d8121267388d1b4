"""The encrypted columns of the projects schema, sealed with dockyard_kit.sealing and re-sealed
after a master key rotation by `python -m dockyard_kit.reencrypt`."""

from dockyard_kit.sealing import SealedColumn

COLUMNS = (
    # Only a secret env var's value is sealed; the others are plaintext.
    SealedColumn("env_vars", "value", sealed_rows="is_secret"),
    SealedColumn("git_sources", "webhook_secret"),
    # NULL for an application that names no registry.
    SealedColumn("applications", "registry_password", sealed_rows="registry_password IS NOT NULL"),
    # The schema refuses any UPDATE of a certificate past its expiry (check_expiry_future), so an
    # expired certificate's private key stays under the key it was sealed with.
    SealedColumn(
        "certificates",
        "private_key",
        rewritable_rows="expires_at > now()",
        skipped_rows="expired certificates (the schema refuses to update them)",
    ),
    SealedColumn("databases", "connection_string"),
)
