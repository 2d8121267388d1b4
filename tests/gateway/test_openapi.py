"""The OpenAPI document (gateway/openapi.py): valid OpenAPI 3.1, one operation per HTTP rule of every
transcoded method of the contract, bearer security except on public methods, and schemas as the
transcoder prints JSON; the fixture service (tests/gateway/protos/openapi_fixture.proto) covers what the
contract may not have."""

import re

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from openapi_spec_validator import validate

from dockyard_kit import registry
from dockyard_kit.contract import read_contract
from gateway.envoy import build_config, transcoded_services
from gateway.openapi import build_document
from tests.gateway.support import build_descriptor_set

FIXTURE = "dockyard.openapifixture.v1"
SCHEMAS = "#/components/schemas/"
VERBS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    """The contract with the OpenAPI fixture service, source comments included (as make proto builds)."""
    return build_descriptor_set(
        tmp_path_factory.mktemp("openapi") / "dockyard.pb", ("openapi_fixture.proto",)
    )


@pytest.fixture(scope="module")
def document(contract):
    return build_document(contract)


@pytest.fixture(scope="module")
def pool(contract):
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(contract.read_bytes()).file:
        pool.Add(file)
    return pool


def operations(document) -> dict[str, tuple[str, str, dict]]:
    """operationId -> (HTTP method, path, operation)."""
    return {
        operation["operationId"]: (verb.upper(), path, operation)
        for path, item in document["paths"].items()
        for verb, operation in item.items()
        if verb in VERBS
    }


def operation(document, operation_id: str) -> dict:
    return operations(document)[operation_id][2]


def schema(document, full_name: str) -> dict:
    return document["components"]["schemas"][full_name]


def resolved(document, value: dict) -> dict:
    while "$ref" in value:
        value = schema(document, value["$ref"].removeprefix(SCHEMAS))
    return value


def parameters(document, operation_id: str) -> dict[str, dict]:
    return {p["name"]: p for p in operation(document, operation_id).get("parameters", [])}


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_http_rule_of_every_transcoded_method_is_an_operation(contract, document):
    # What Envoy transcodes, from its generated configuration; the rules from the descriptors' options.
    addresses = {service.name: service.default_address for service in registry.SERVICES}
    config = build_config(
        contract, listen_host="127.0.0.1", listen_port=1, admin_port=2, service_addresses=addresses
    )
    [listener] = config["static_resources"]["listeners"]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    [transcoder] = [
        f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"
    ]
    transcoded = transcoder["typed_config"]["services"]
    assert transcoded == transcoded_services(read_contract(contract))
    assert f"{FIXTURE}.CrateService" in transcoded
    files = descriptor_pb2.FileDescriptorSet.FromString(contract.read_bytes()).file
    expected = set()
    for file in files:
        for service in file.service:
            if f"{file.package}.{service.name}" not in transcoded:
                continue
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for index, binding in enumerate((rule, *rule.additional_bindings)):
                    verb = binding.WhichOneof("pattern")
                    suffix = f"_{index + 1}" if index else ""
                    expected.add(
                        (f"{service.name}_{method.name}{suffix}", verb.upper(), getattr(binding, verb))
                    )
    found = {(op_id, verb, path) for op_id, (verb, path, _) in operations(document).items()}
    assert found == expected
    assert ("CrateService_ListCrates_2", "GET", "/v1/fixture/crates") in found
    assert not any(op_id.startswith("CrateService_ShakeCrate") for op_id, _, _ in found)


def test_public_methods_need_no_token_and_every_other_a_bearer_token(contract, document):
    public = {  # Service_Method of each /<package>.<Service>/<Method>
        "_".join(method.grpc_path.rsplit(".", 1)[1].split("/"))
        for service in read_contract(contract)
        for method in service.public_methods
    }
    assert {"AuthService_Login", "SystemService_GetSystemStatus", "CrateService_CountCrates"} <= public
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for op_id, (_, _, op) in operations(document).items():
        method = re.sub(r"_[0-9]+$", "", op_id)  # an additional binding's operation
        expected = [] if method in public else [{"bearer": []}]
        assert op["security"] == expected, op_id


def test_timestamps_are_date_time_strings_everywhere(document, pool):
    checked = 0
    for name, component in document["components"]["schemas"].items():
        if component.get("type") != "object" or not name.startswith("dockyard."):
            continue
        for field in pool.FindMessageTypeByName(name).fields:
            if field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp":
                property_schema = component["properties"][field.name]
                items = property_schema["items"] if field.is_repeated else property_schema
                assert (items["type"], items["format"]) == ("string", "date-time"), f"{name}.{field.name}"
                checked += 1
    assert checked > 10
    assert schema(document, "dockyard.identity.v1.User")["properties"]["created_at"]["format"] == "date-time"
    assert parameters(document, "AuditLogService_ListAuditLogs")["since"]["schema"]["format"] == "date-time"


def test_enums_are_string_enums_of_their_value_names(document, pool):
    cargo = schema(document, f"{FIXTURE}.Cargo")
    assert cargo["type"] == "string"
    assert cargo["enum"] == ["CARGO_UNSPECIFIED", "CARGO_FRUIT", "CARGO_TOOLS"]
    assert cargo["description"] == "What a crate holds.\n- CARGO_FRUIT: Bananas, mostly."
    crate = schema(document, f"{FIXTURE}.Crate")["properties"]
    assert crate["cargo"]["$ref"] == f"{SCHEMAS}{FIXTURE}.Cargo"
    # Every enum of the contract, whichever it is, the same way.
    for name, component in document["components"]["schemas"].items():
        if "enum" in component and name != "google.rpc.Status":
            assert component["enum"] == [value.name for value in pool.FindEnumTypeByName(name).values]


def test_json_is_what_the_transcoder_prints(document):
    crate = schema(document, f"{FIXTURE}.Crate")["properties"]
    # Proto field names (preserve_proto_field_names), 64-bit integers as strings.
    assert "weight_grams" in crate and "weightGrams" not in crate
    assert crate["weight_grams"]["type"] == "string" and crate["weight_grams"]["format"] == "int64"
    assert crate["insured_value"]["type"] == "string"
    assert crate["stack_height"] == {
        "type": "integer",
        "format": "uint32",
        "minimum": 0,
        "maximum": 2**32 - 1,
    }
    assert crate["labels"]["type"] == "object"
    assert crate["labels"]["additionalProperties"]["type"] == "integer"
    assert crate["tags"] == {"type": "array", "items": {"type": "string"}}
    assert crate["manifest"] == {"type": "object", "additionalProperties": True}
    assert crate["shelf_life"]["type"] == "string" and crate["shelf_life"]["pattern"].endswith("s$")
    assert crate["seal"]["format"] == "byte"
    assert {"port", "warehouse"} <= set(crate)
    mask = parameters(document, "CrateService_UpdateCrate")["update_mask"]
    assert mask["in"] == "query" and mask["schema"]["format"] == "field-mask"
    empty = operation(document, "UserService_DeleteUser")["responses"]["200"]["content"]["application/json"]
    assert empty["schema"]["type"] == "object" and empty["schema"]["properties"] == {}


def test_parameters_follow_the_path_and_the_body_rule(document):
    listed = parameters(document, "CrateService_ListCrates")
    assert listed["shelf.id"]["in"] == "path" and listed["shelf.id"]["required"] is True
    # The rest of the request comes from the query string: a nested message field by field, repeated
    # fields once per value, well-known types as strings; maps and Structs cannot be spelled there.
    assert {name for name, p in listed.items() if p["in"] == "query"} == {
        "shelf.aisle",
        "shelf.cargo",
        "packed_since",
        "cargo",
        "tags",
        "shelf_life",
    }
    assert listed["cargo"]["schema"] == {"type": "array", "items": {"$ref": f"{SCHEMAS}{FIXTURE}.Cargo"}}
    assert listed["packed_since"]["description"] == "Only crates packed at or after this time."
    unbound = parameters(document, "CrateService_ListCrates_2")
    assert {"shelf.id", "shelf.aisle"} <= set(unbound) and unbound["shelf.id"]["in"] == "query"

    update = operation(document, "CrateService_UpdateCrate")
    assert (
        update["requestBody"]["content"]["application/json"]["schema"]["$ref"] == f"{SCHEMAS}{FIXTURE}.Crate"
    )
    assert set(parameters(document, "CrateService_UpdateCrate")) == {"crate.id", "update_mask"}

    seal = operation(document, "CrateService_SealCrate")
    assert set(parameters(document, "CrateService_SealCrate")) == {"crate_id"}
    body = seal["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"reason"}  # body "*": everything the path does not bind


def test_responses_and_errors(document):
    listed = operation(document, "CrateService_ListCrates")["responses"]
    assert (
        listed["200"]["content"]["application/json"]["schema"]["$ref"]
        == f"{SCHEMAS}{FIXTURE}.ListCratesResponse"
    )
    error = document["components"]["responses"]["Error"]["content"]["application/json"]["schema"]
    assert listed["4XX"] == listed["5XX"] == {"$ref": "#/components/responses/Error"}
    status = resolved(document, error)
    assert set(status["properties"]) == {"code", "message", "details"}
    assert status["required"] == ["code", "message"]
    assert status["properties"]["details"]["items"]["properties"]["@type"]["type"] == "string"
    watched = operation(document, "CrateService_WatchCrates")["responses"]["200"]
    assert list(watched["content"]) == ["text/event-stream"]
    data = watched["content"]["text/event-stream"]["schema"]["properties"]["data"]
    assert data["contentMediaType"] == "application/json"
    assert data["contentSchema"] == {"$ref": f"{SCHEMAS}{FIXTURE}.Crate"}
    # google.api.HttpBody: the bytes as they are, whatever their content type, both ways.
    jwks = operation(document, "AuthService_GetJwks")["responses"]["200"]
    assert list(jwks["content"]) == ["*/*"]
    upload = operation(document, "CrateService_UploadPackingList")["requestBody"]
    assert upload["content"] == {"*/*": {"schema": {}}}


def test_descriptions_come_from_the_proto_comments(document):
    listed = operation(document, "CrateService_ListCrates")
    assert listed["summary"] == "Lists the crates on a shelf."
    assert listed["description"] == "Lists the crates on a shelf. Newest first."
    assert "summary" not in operation(document, "CrateService_UpdateCrate")
    assert schema(document, f"{FIXTURE}.Crate")["description"] == "A crate."
    assert (
        schema(document, f"{FIXTURE}.Crate")["properties"]["id"]["description"]
        == "UUID, assigned by the server."
    )
    assert {"name": "CrateService", "description": "Crates on shelves."} in document["tags"]
    status = operation(document, "SystemService_GetSystemStatus")
    assert status["summary"].startswith("Reports the database, NATS")


async def test_the_gateway_serves_the_document_without_a_token(gateway, descriptor_set):
    # `gateway` and `descriptor_set` (conftest.py): a real Envoy on the contract plus the gateway's
    # fixture services; the document it serves is the one built from that same descriptor set.
    response = await gateway.request("GET", "/openapi.json")

    assert response.status == 200, response.body[:300]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    served = response.json()
    assert served == build_document(descriptor_set)
    assert "/v1/fixture/widgets/{name}" in served["paths"]
    # Only reading it is public.
    refused = await gateway.request("POST", "/openapi.json", b"{}", {"content-type": "application/json"})
    assert refused.status == 401
