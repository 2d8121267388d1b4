"""The catalogue of events read from the contract (dockyard_kit/event_catalog.py): every payload in
an events.proto names its types, each type is <service>.<resource>.<verb> of the file's service, and
the types the services' comments promise are all there."""

from dockyard_kit import event_catalog
from dockyard_kit.events import event_type


def test_every_payload_message_of_the_events_files_names_at_least_one_type():
    payloads = event_catalog.payloads()
    named = {descriptor.full_name for descriptor in payloads.values()}
    files = {descriptor.file for descriptor in payloads.values()}
    every_message = {message.full_name for file in files for message in file.message_types_by_name.values()}
    assert named == every_message


def test_each_type_is_of_its_files_service_and_well_formed():
    for type_, descriptor in event_catalog.payloads().items():
        service, resource, verb = type_.split(".")
        assert event_type(service, resource, verb) == type_
        assert descriptor.full_name.startswith(f"dockyard.{service}.v1."), type_


def test_the_catalogue_holds_each_services_events():
    payloads = event_catalog.payloads()
    assert payloads["identity.user.deleted"].name == "UserChanged"
    assert payloads["identity.auth.login_failed"].name == "LoginAttempted"
    assert payloads["projects.secret.revealed"].name == "SecretRevealed"
    assert payloads["deployer.deployment.rolled_back"].name == "DeploymentChanged"
    assert {type_.split(".")[0] for type_ in payloads} == {"identity", "projects", "deployer"}
