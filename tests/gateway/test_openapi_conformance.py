"""The platform does what its OpenAPI document says: schemathesis (its command line, which runs every
phase) tests each operation of the document the running gateway serves, with a super_admin's token so
that authorised paths are reached: the coverage phase's edge cases of every parameter and body, then
a few generated requests, valid and invalid. No answer may be a 5xx, and every answer must conform to
the document (status, content type, body). Nothing is skipped: made-up ids make deletes and disables
find nothing, so the caller's own session survives, and streams of deployments that do not exist
end at once."""

import json
import pathlib
import re
import subprocess
import sys

import pytest
import requests

from tests.support.accounts import login, setup_admin

SCHEMATHESIS = pathlib.Path(sys.executable).parent / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = 3  # generated per operation (valid and invalid), after the coverage phase's cases
SEED = 1  # the same requests every run: a failure is reproducible
REQUEST_TIMEOUT = 10
RUN_TIMEOUT = 200  # seconds; about 60 here for some 4,000 requests
PATH_VARIABLE = re.compile(r"\{([^}]*)\}")


@pytest.fixture(scope="module")
def admin_token(gateway_channel) -> str:
    setup_admin(gateway_channel, "root")
    return login(gateway_channel, "root")


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


def test_every_operation_answers_as_documented_and_never_with_a_5xx(stack, admin_token, tmp_path):
    base_url = f"http://127.0.0.1:{stack.port}"
    served = requests.get(f"{base_url}/openapi.json", timeout=REQUEST_TIMEOUT)
    assert served.status_code == 200
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(with_plain_path_names(served.json())))
    operations = sum(len(item) for item in served.json()["paths"].values())

    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            str(document),
            f"--url={base_url}",
            f"--header=authorization: Bearer {admin_token}",
            "--phases=examples,coverage,fuzzing",
            f"--max-examples={EXAMPLES}",
            f"--checks={CHECKS}",
            f"--seed={SEED}",
            "--no-shrink",
            f"--request-timeout={REQUEST_TIMEOUT}",
            "--workers=1",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=tmp_path,  # its reports and cache stay out of the repository
    )

    summary = run.stdout[-8000:]
    assert run.returncode == 0, f"schemathesis found failures:\n{summary}\n{run.stderr[-2000:]}"
    assert f"Tested: {operations}" in run.stdout, summary
