"""
Alembic's environment for the region: migrations run on the connection the
caller hands over (see :func:`pserv.region.migrate.upgrade`).
"""

from alembic import context

from pserv.region.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
