"""The platform does what its OpenAPI document says: schemathesis generates requests for every operation
of the document the running gateway serves (valid ones and invalid ones, a few of each), sends them
with a super_admin's token so that authorised paths are reached, and requires that no answer is a 5xx
and that every answer conforms to the document (status, content type, body schema)."""

import re
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.accounts import login, setup_admin

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and generation mode: about 100 operations take under a minute here.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 8, schemathesis.GenerationMode.NEGATIVE: 4}
REQUEST_TIMEOUT = 10
PATH_VARIABLE = re.compile(r"\{([^}]*)\}")
RUN_DEADLINE = 150  # seconds for the whole run: it must stay bounded on a busy 2-core machine


@pytest.fixture(scope="module")
def base_url(stack) -> str:
    return f"http://127.0.0.1:{stack.port}"


@pytest.fixture(scope="module")
def admin_token(gateway_channel) -> str:
    setup_admin(gateway_channel, "root")
    return login(gateway_channel, "root")


@pytest.fixture(scope="module")
def schema(base_url):
    response = requests.get(f"{base_url}/openapi.json", timeout=REQUEST_TIMEOUT)
    response.raise_for_status()
    return schemathesis.openapi.from_dict(with_plain_path_names(response.json()))


def with_plain_path_names(document: dict) -> dict:
    """The document with path parameters such as `{user.id}` (a nested field, as the HTTP rule names
    it, and valid OpenAPI) renamed `{user__id}`: schemathesis fills path templates with str.format,
    where a dot means an attribute. The URLs sent are the same."""
    paths = {}
    for path, item in document["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter["name"] = plain(parameter["name"])
        paths[PATH_VARIABLE.sub(lambda match: "{" + plain(match.group(1)) + "}", path)] = item
    return {**document, "paths": paths}


def plain(name: str) -> str:
    return name.replace(".", "__")


def failures_of(operation, mode, base_url: str, headers: dict[str, str], session) -> list[str]:
    failures = []

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failing request
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        try:
            case.call_and_validate(
                base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT
            )
        except (Failure, FailureGroup) as error:  # a check failed: recorded with its request
            failures.append(f"{case.as_curl_command(headers)}\n{error}")

    try:
        run()
    except Unsatisfiable:
        # Only in negative mode, for an operation whose inputs cannot be made invalid (it has none).
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
    return failures


def test_every_operation_answers_as_documented_and_never_with_a_5xx(schema, base_url, admin_token):
    headers = {"authorization": f"Bearer {admin_token}"}
    started = time.monotonic()
    failures: dict[str, list[str]] = {}
    checked = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):
                pytest.fail(f"schemathesis cannot read an operation of the document: {result.err()!r}")
            operation = result.ok()
            for mode in EXAMPLES:
                found = failures_of(operation, mode, base_url, headers, session)
                if found:
                    failures.setdefault(operation.label, []).extend(found)
            checked += 1
            assert time.monotonic() - started < RUN_DEADLINE, (
                f"over {RUN_DEADLINE}s after {checked} operations"
            )
    assert checked == sum(len(item) for item in schema.raw_schema["paths"].values())
    report = "\n\n".join(f"== {label}\n" + "\n".join(found[:2]) for label, found in failures.items())
    assert not failures, f"{len(failures)} operations misbehave:\n{report}"
