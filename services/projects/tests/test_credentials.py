"""Managed databases' generated credentials and connection strings."""

import re

import pytest

from services.projects import credentials
from services.projects.domain.databases import TYPES, validate_name

NAMES = ("app", "orders-db", "a", "x" * 63, "under_score-and-dash9")


@pytest.mark.parametrize("name", NAMES)
def test_usernames_are_identifiers_from_the_name_with_a_random_suffix(name):
    username = credentials.generate_username(validate_name(name))
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", username), username
    assert username.startswith(name.replace("-", "_")[:40] + "_")
    assert username != credentials.generate_username(name)


def test_passwords_are_long_random_and_need_no_escaping():
    passwords = {credentials.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 32 and password.isalnum() and password.isascii()


@pytest.mark.parametrize("db_type", TYPES)
@pytest.mark.parametrize("name", NAMES)
def test_connection_strings_carry_the_password_and_give_it_back(db_type, name):
    username = credentials.generate_username(name)
    password = credentials.generate_password()
    connection = credentials.connection_string(db_type, name, username, password)
    assert connection.startswith(f"{credentials.SCHEMES[db_type]}://{username}:{password}@{name}:")
    assert f":{credentials.PORTS[db_type]}/" in connection
    assert credentials.password_of(connection, username) == password


@pytest.mark.parametrize("db_type", TYPES)
def test_the_masked_connection_string_never_holds_the_password(db_type):
    password = credentials.generate_password()
    connection = credentials.connection_string(db_type, "orders-db", "orders_db_1234abcd", password)
    masked = credentials.masked_connection_string(db_type, "orders-db", "orders_db_1234abcd")
    assert password not in masked
    assert masked == connection.replace(password, credentials.MASK)


def test_the_examples_shape():
    assert (
        credentials.masked_connection_string("postgresql", "db-x", "app_x")
        == "postgresql://app_x:********@db-x:5432/db_x"
    )
    assert (
        credentials.masked_connection_string("redis", "cache", "cache_1")
        == "redis://cache_1:********@cache:6379/0"
    )


def test_every_type_has_a_default_version_port_and_scheme():
    assert set(TYPES) == {"postgresql", "mysql", "mongodb", "redis"}
    assert (
        set(credentials.DEFAULT_VERSIONS) == set(credentials.PORTS) == set(credentials.SCHEMES) == set(TYPES)
    )
