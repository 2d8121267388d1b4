"""The service kit: the runtime every Dockyard service is built on.

- the services and their settings: registry (the one list of services), config (environment),
  contract (what the descriptor set says: served_by, internal, public methods, HTTP rules);
- the database: db (roles, schemas, the pool, the session pool for reads, the database-unavailable
  errors), migrations (Alembic at start-up, in a child process: the kit's own chain in
  kit_migrations/, then the service's), revisions (heads and current revisions without Alembic),
  sql and pagination;
- the gRPC server: server (ServiceSpec, health, reflection, start-up, draining shutdown),
  interceptors and errors (request ids, status mapping, constraint wording, access logs, metrics),
  servicer (the handlers' base), protoconv (requests and field masks), component (each process's
  status), logs;
- who calls: auth and jwks (access tokens), access (the effective role, the current-roles memo), revocations (the
  deny-list), service_auth (service credentials for internal services);
- secrets: crypto (AES-256-GCM key ring), sealing (sealed columns), reencrypt (key rotation);
- service_modules (what a service registers by convention), events/ (outbox, emitter, relay,
  consumers, inbox, parked events) and stack/ (the embedded platform of `make run` and the tests).
"""
