"""Helpers for the sign-in and API token tests: HTTP through the gateway (optionally from another
loopback address, so per-address throttling stays per test), reading JWTs, and the stack's database
as its administrative login."""

import base64
import contextlib
import http.client
import json
import re

import asyncpg
from joserfc import jwt
from joserfc.jwk import KeySet

USER_AGENT = "auth-tests/1.0"


def call(stack, method: str, path: str, body=None, *, source: str = "127.0.0.1", token: str = ""):
    """An HTTP request to the gateway from `source`: (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30, source_address=(source, 0))
    try:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        connection.request(
            method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers
        )
        response = connection.getresponse()
        raw = response.read()
        is_json = "json" in response.getheader("content-type", "")
        return response.status, json.loads(raw) if raw and is_json else raw
    finally:
        connection.close()


def login(stack, username: str, password: str, *, source: str = "127.0.0.1"):
    return call(stack, "POST", "/v1/auth/login", {"username": username, "password": password}, source=source)


def unverified(token: str) -> tuple[dict, dict]:
    """The header and claims of a JWT, read without checking its signature."""

    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    header, claims, _ = token.split(".")
    return decode(header), decode(claims)


def jwks(stack) -> dict:
    status, body = call(stack, "GET", "/.well-known/jwks.json")
    assert status == 200, body
    return body


def verify(token: str, document: dict) -> dict:
    """The claims of a token whose signature one of the JWKS document's keys verifies."""
    return jwt.decode(token, KeySet.import_key_set(document), algorithms=["ES256"]).claims


@contextlib.asynccontextmanager
async def admin_database(stack, schema: str = "identity"):
    """The stack's database as its administrative login (a superuser: row-level security does not
    apply), searching `schema`."""
    port = re.search(r"PostgreSQL on 127\.0\.0\.1:(\d+)", stack.output())[1]
    password = (stack.data_dir / "postgres" / "postgres-password").read_text().strip()
    pool = await asyncpg.create_pool(
        host="127.0.0.1",
        port=int(port),
        user="postgres",
        password=password,
        database="dockyard",
        min_size=1,
        max_size=2,
        server_settings={"search_path": schema},
    )
    try:
        yield pool
    finally:
        await pool.close()
