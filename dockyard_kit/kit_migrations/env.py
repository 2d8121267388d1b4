"""The Alembic environment of every chain, the kit's and each service's (dockyard_kit/migrations.py):
migrate on the connection `upgrade_to_head` hands over, recording the chain's version in its own
table inside the service's schema."""

from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    version_table=config.attributes["version_table"],
    version_table_schema=config.attributes["schema"],
    include_schemas=False,
)
with context.begin_transaction():
    context.run_migrations()
