"""The application status table: which status changes the deployer's events may make."""

import itertools

import pytest

from dockyard_kit.errors import FailedPrecondition
from services.projects.domain.application_status import (
    ARCHIVED,
    LIVE_STATUSES,
    STATUSES,
    TRANSITIONS,
    can_change,
    check_change,
)

ALLOWED = {
    ("stopped", "deploying"),
    ("stopped", "scaling"),
    ("deploying", "running"),
    ("deploying", "failed"),
    ("deploying", "stopped"),
    ("running", "scaling"),
    ("running", "deploying"),
    ("running", "stopped"),
    ("running", "failed"),
    ("scaling", "running"),
    ("scaling", "stopped"),
    ("scaling", "failed"),
    ("failed", "deploying"),
    ("failed", "stopped"),
}


def test_the_table_covers_every_status_and_matches_the_migration():
    assert set(TRANSITIONS) == set(STATUSES)
    assert STATUSES == ("stopped", "deploying", "running", "failed", "scaling", "archived")


@pytest.mark.parametrize(("current", "new"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair(current, new):
    expected = (current, new) in ALLOWED
    assert can_change(current, new) is expected
    if expected:
        check_change(current, new)
    else:
        with pytest.raises(FailedPrecondition):
            check_change(current, new)


@pytest.mark.parametrize("current", LIVE_STATUSES)
def test_archiving_is_not_a_status_change(current):
    with pytest.raises(FailedPrecondition, match="DeleteApplication"):
        check_change(current, ARCHIVED)


@pytest.mark.parametrize("new", LIVE_STATUSES)
def test_an_archived_application_only_comes_back_by_restore(new):
    with pytest.raises(FailedPrecondition, match="restore"):
        check_change(ARCHIVED, new)


def test_unknown_statuses_are_refused():
    with pytest.raises(FailedPrecondition):
        check_change("running", "paused")
    assert not can_change("paused", "running")


def test_the_message_names_what_is_allowed():
    with pytest.raises(
        FailedPrecondition, match=r"stopped cannot become running \(only deploying, scaling\)"
    ):
        check_change("stopped", "running")
