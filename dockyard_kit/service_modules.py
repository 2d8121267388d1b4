"""What a service hands the kit by convention rather than by import: a module of its package with a
known name (services/<name>/sealed_columns.py, services/<name>/constraint_messages.py), looked up by
name at run time, so that the kit imports no service."""

import importlib


def registered(service: str, module: str, attribute: str):
    """`services.<service>.<module>.<attribute>`; None when the service has no such module."""
    name = f"services.{service}.{module}"
    try:
        found = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, f"services.{service}", "services"):
            raise  # the module exists but imports something missing
        return None
    return getattr(found, attribute)
