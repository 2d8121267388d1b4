"""The deployer's pure rules: what a request may name (git refs, request ids, levels, statuses),
how a docker_config command becomes the service's, and what a deployment's image is called."""

import pytest

from dockyard_kit.errors import InvalidArgument
from services.deployer.domain import deployments
from services.deployer.domain.worker import built_tag, service_command


@pytest.mark.parametrize("ref", ["main", "release/2.1", "v1.2.3", "feature_x+y", "0123abcd" * 5])
def test_git_refs_a_clone_can_check_out(ref):
    assert deployments.validate_git_ref(ref) == ref


@pytest.mark.parametrize("ref", ["-rf", "a..b", "x.lock", "trailing/", "with space", "a@{1}", "é", "x" * 256])
def test_git_refs_refused_name_the_field(ref):
    with pytest.raises(InvalidArgument) as refused:
        deployments.validate_git_ref(ref)
    assert refused.value.field == "git_ref"


def test_empty_ref_and_request_id_mean_none():
    assert deployments.validate_git_ref("") is None and deployments.validate_request_id("") is None


@pytest.mark.parametrize("request_id", ["x" * 101, "tab\there"])
def test_request_ids_are_short_and_printable(request_id):
    with pytest.raises(InvalidArgument) as refused:
        deployments.validate_request_id(request_id)
    assert refused.value.field == "request_id"


def test_levels_include_those_above():
    assert deployments.levels_from("") == ("debug", "info", "warn", "error")
    assert deployments.levels_from("warn") == ("warn", "error")
    with pytest.raises(InvalidArgument) as refused:
        deployments.levels_from("fatal")
    assert refused.value.field == "level"


def test_status_filter():
    assert deployments.validate_status_filter("") is None
    assert deployments.validate_status_filter("rolled_back") == "rolled_back"
    with pytest.raises(InvalidArgument):
        deployments.validate_status_filter("cancelled")  # the seed's enum: a cancel ends failed


def test_a_string_command_runs_through_the_shell():
    assert service_command("echo hi && sleep 1") == ("sh", "-c", "echo hi && sleep 1")
    assert service_command(("httpd", "-f")) == ("httpd", "-f")
    assert service_command(None) is None


def test_built_images_are_tagged_per_deployment():
    assert built_tag("a1", "d2") == "dockyard-app-a1:d2"
