"""Page sizes and page tokens: bounded, opaque, and tied to the list and filters that issued them."""

import pytest

from dockyard_kit.errors import InvalidArgument
from dockyard_kit.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_page, split_page

QUERY = {"list": "users", "role": "developer"}


def rows(*keys):
    return [{"username": key} for key in keys]


def test_page_size_defaults_and_bounds():
    assert parse_page(0, "", QUERY).size == DEFAULT_PAGE_SIZE
    assert parse_page(MAX_PAGE_SIZE, "", QUERY).size == MAX_PAGE_SIZE
    for bad in (-1, MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidArgument) as raised:
            parse_page(bad, "", QUERY)
        assert raised.value.field == "page_size"


def test_a_page_token_resumes_after_the_last_row_served():
    page = parse_page(2, "", QUERY)
    served, token = split_page(rows("a", "b", "c"), page, "username")
    assert served == rows("a", "b")
    assert parse_page(2, token, QUERY).after == "b"


def test_the_last_page_has_no_token():
    page = parse_page(2, "", QUERY)
    assert split_page(rows("a", "b"), page, "username") == (rows("a", "b"), "")


@pytest.mark.parametrize("token", ["not base64!", "bm90IGpzb24", "WzFd", "eyJhZnRlciI6IDF9"])
def test_a_token_the_service_did_not_issue_is_refused(token):
    with pytest.raises(InvalidArgument) as raised:
        parse_page(10, token, QUERY)
    assert raised.value.field == "page_token"


def test_a_token_of_other_filters_is_refused():
    _, token = split_page(rows("a", "b"), parse_page(1, "", QUERY), "username")
    with pytest.raises(InvalidArgument, match="different list or other filters"):
        parse_page(1, token, {**QUERY, "role": "viewer"})
