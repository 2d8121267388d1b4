"""The service kit: the runtime every Dockyard service is built on.

configuration (config), the database pool and per-service role bootstrap (db), Alembic at start-up
(migrations), the gRPC server with health, reflection, interceptors and graceful shutdown (server,
interceptors, errors), JSON logs (logs), metrics (metrics), the events backbone (events/), and the
embedded stack that `make run` and the tests start (stack/).
"""
