"""Managed databases' generated credentials and connection strings (pure functions).

A database is reached on the platform's application network by its name as host name; the
connection string holds the generated password and is stored encrypted; everywhere else it is
shown with the password masked. Outside the layers: domain/databases.py generates with it, convert.py
masks with it."""

import secrets
import string

from dockyard_kit.sealing import SECRET_MASK as MASK

DEFAULT_VERSIONS = {"postgresql": "18", "mysql": "8.4", "mongodb": "8.0", "redis": "7.4"}
PORTS = {"postgresql": 5432, "mysql": 3306, "mongodb": 27017, "redis": 6379}
SCHEMES = {"postgresql": "postgresql", "mysql": "mysql", "mongodb": "mongodb", "redis": "redis"}

_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def generate_username(database_name: str) -> str:
    """A login name: the database name (made identifier-safe) and a random suffix."""
    base = database_name.replace("-", "_")[:40]
    return f"{base}_{secrets.token_hex(4)}"


def generate_password(length: int = 32) -> str:
    # Letters and digits only: no character needs escaping in any of the URL schemes.
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def connection_string(db_type: str, name: str, username: str, password: str) -> str:
    port = PORTS[db_type]
    if db_type == "redis":
        return f"redis://{username}:{password}@{name}:{port}/0"
    database = name.replace("-", "_")
    return f"{SCHEMES[db_type]}://{username}:{password}@{name}:{port}/{database}"


def masked_connection_string(db_type: str, name: str, username: str) -> str:
    return connection_string(db_type, name, username, MASK)


def password_of(connection: str, username: str) -> str:
    """The password inside a connection string built by `connection_string`."""
    credentials = connection.split("://", 1)[1].rsplit("@", 1)[0]
    return credentials[len(username) + 1 :]
