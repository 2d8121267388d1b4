"""What tests of every area share (a test module imports from here, never from a conftest or from
another area's tests):

- `paths`: REPO_ROOT; `waiting`: polling until something holds;
- `calls`: gRPC status codes, the field a bad request names, event payloads, REST through the gateway;
- `accounts`: signing in, users and API tokens on the platform, `People` (every kind of caller);
- `tokens`: forged and well-formed JWTs, reading and verifying the platform's own;
- `database`: the platform's database as its administrative login;
- `authorization`: the authorization-matrix harness (tables of RPC and expected code per caller);
- `processes`, `stack_process`: services and the whole stack as OS processes;
- pytest plugins (tests/conftest.py): `platform` (the stack and channels to it), `service_fixtures`
  (`people`, each service's schema and pool).
"""
