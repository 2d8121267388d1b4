"""Searching the trail through the gateway: each filter alone and together, PostgreSQL's websearch
syntax (words, "phrases", -exclusions, or), newest first in keyset pages that stay stable while
entries keep arriving, the export's NDJSON and CSV holding exactly what the list shows, and bad
input refused naming its field."""

import csv
import datetime
import io
import json
import urllib.parse
import urllib.request
import uuid

import pytest

from services.audit.store.partitions import add_months, month_start
from tests.support.resources import call, sql

T0 = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)


def insert(stack, project: str, n: int, **overrides) -> None:
    """`n` entries of `project`, a minute apart from T0 on (or as `overrides` say), straight into the
    trail as the administrative login."""
    rows = []
    for i in range(n):
        row = {
            "user_id": str(uuid.uuid4()),
            "username": "someone",
            "action": "projects.application.updated",
            "resource_type": "application",
            "resource_id": str(uuid.uuid4()),
            "details": {"application": {"name": f"app-{i}"}},
            "ip_address": "192.0.2.10",
            "user_agent": "curl/8.0",
            "created_at": T0 + datetime.timedelta(minutes=i),
        } | overrides
        rows.append(row)
    sql(
        stack,
        "audit",
        """
        INSERT INTO audit_logs (user_id, username, action, resource_type, resource_id, details,
                                ip_address, user_agent, created_at, project_id, event_id)
        SELECT r.user_id, r.username, r.action, r.resource_type, r.resource_id, r.details,
               r.ip_address, r.user_agent, r.created_at, $2::uuid, gen_random_uuid()
        FROM jsonb_to_recordset($1::jsonb) AS r(user_id uuid, username text, action text,
             resource_type text, resource_id uuid, details jsonb, ip_address inet, user_agent text,
             created_at timestamptz)
        """,
        json.dumps(rows, default=str),
        project,
    )


def listed(stack, account, project: str, **params) -> list[dict]:
    """Every entry of `project` the filters match, following the pages."""
    found, token = [], ""
    while True:
        query = urllib.parse.urlencode({"project_id": project, "page_size": 7, "page_token": token, **params})
        status, body = call(stack, account, "GET", f"/v1/audit-logs?{query}")
        assert status == 200, body
        found += body["audit_logs"]
        token = body.get("next_page_token", "")
        if not token:
            return found


def download(stack, account, query: str) -> tuple[int, str, str]:
    """GET /v1/audit-logs:export through the gateway: (status, content type, the body as text)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}/v1/audit-logs:export?{query}",
        headers={"authorization": f"Bearer {account.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["content-type"], response.read().decode()


@pytest.fixture
def project() -> str:
    return str(uuid.uuid4())


def test_entries_come_newest_first_over_keyset_pages(stack, people, project):
    insert(stack, project, 20)
    found = listed(stack, people.super_admin, project)
    times = [entry["created_at"] for entry in found]
    assert len(found) == 20 and times == sorted(times, reverse=True)
    assert len({entry["id"] for entry in found}) == 20


def test_each_filter_narrows_to_its_entries(stack, people, project):
    who, thing = str(uuid.uuid4()), str(uuid.uuid4())
    insert(stack, project, 5)
    insert(stack, project, 2, user_id=who)
    insert(stack, project, 3, resource_type="database", resource_id=thing, action="projects.database.updated")
    insert(stack, project, 1, action="identity.team.created", resource_type="team")
    insert(stack, project, 2, ip_address="2001:db8::7")
    insert(
        stack, project, 2, ip_address="198.51.100.9", created_at=(T0 - datetime.timedelta(days=3)).isoformat()
    )
    admin = people.super_admin

    assert len(listed(stack, admin, project)) == 15
    assert {e["user_id"] for e in listed(stack, admin, project, user_id=who)} == {who}
    assert len(listed(stack, admin, project, resource_type="database", resource_id=thing)) == 3
    assert len(listed(stack, admin, project, action="projects.database.updated")) == 3
    assert len(listed(stack, admin, project, action="projects.")) == 14
    assert len(listed(stack, admin, project, action="identity.team.")) == 1
    assert len(listed(stack, admin, project, action="projects.database.")) == 3
    assert len(listed(stack, admin, project, ip="2001:db8::/32")) == 2
    assert len(listed(stack, admin, project, ip="198.51.100.9")) == 2
    assert len(listed(stack, admin, project, ip="192.0.2.0/24")) == 11
    window = {"since": (T0 - datetime.timedelta(days=4)).isoformat(), "until": T0.isoformat()}
    assert len(listed(stack, admin, project, **window)) == 2
    assert len(listed(stack, admin, project, since=T0.isoformat())) == 13
    both = listed(stack, admin, project, resource_type="database", ip="192.0.2.10", user_id=who)
    assert both == []


def test_full_text_takes_words_phrases_exclusions_and_or(stack, people, project):
    insert(stack, project, 1, details={"application": {"name": "orbit", "description": "blue whale tank"}})
    insert(stack, project, 1, details={"application": {"name": "comet", "description": "whale of a time"}})
    insert(
        stack,
        project,
        1,
        details={"application": {"name": "nova", "description": "red tank"}},
        username="marta",
    )
    admin = people.super_admin

    def names(query: str) -> set[str]:
        return {e["details"]["application"]["name"] for e in listed(stack, admin, project, query=query)}

    assert names("whale") == {"orbit", "comet"}
    assert names('"blue whale"') == {"orbit"}
    assert names("whale -blue") == {"comet"}
    assert names("comet or nova") == {"comet", "nova"}
    assert names("marta") == {"nova"}  # the username is searched too
    assert names("tanks") == {"orbit", "nova"}  # English stemming
    assert names("application updated") == {"orbit", "comet", "nova"}  # the action's words


def test_a_full_text_search_pages_across_months_and_the_default_partition_in_order(stack, people, project):
    # The current month and the next two have partitions; T0 (last month) and three years back are
    # in the default one. A search reads month by month and merges the default partition's matches.
    this_month = month_start(datetime.datetime.now(datetime.UTC))
    starts = [add_months(this_month, 2), add_months(this_month, 1), this_month, T0, T0.replace(year=2023)]
    for n, start in enumerate(starts):
        insert(stack, project, 4 + n, created_at=(start + datetime.timedelta(hours=1)).isoformat())
    admin = people.super_admin

    searched = listed(stack, admin, project, query="application")
    everything = listed(stack, admin, project)  # one statement, no month by month
    assert [e["id"] for e in searched] == [e["id"] for e in everything]
    assert len(searched) == 4 + 5 + 6 + 7 + 8
    assert [e["created_at"] for e in searched] == sorted((e["created_at"] for e in searched), reverse=True)
    window = {"since": this_month.isoformat(), "until": add_months(this_month, 2).isoformat()}
    assert len(listed(stack, admin, project, query="application", **window)) == 5 + 6


def test_pages_stay_stable_while_new_entries_arrive(stack, people, project):
    insert(stack, project, 15)
    base = f"/v1/audit-logs?project_id={project}&page_size=6"
    status, first = call(stack, people.super_admin, "GET", base)
    assert status == 200
    # Newer entries arrive between pages: the pages already begun neither repeat nor skip one.
    insert(stack, project, 4, created_at=(T0 + datetime.timedelta(hours=5)).isoformat())
    seen, token = [e["id"] for e in first["audit_logs"]], first["next_page_token"]
    while token:
        status, body = call(stack, people.super_admin, "GET", f"{base}&page_token={token}")
        assert status == 200, body
        seen += [e["id"] for e in body["audit_logs"]]
        token = body.get("next_page_token", "")
    assert len(seen) == len(set(seen)) == 15


def test_the_export_holds_what_the_list_shows_as_ndjson_and_csv(stack, people, project):
    insert(stack, project, 1200, details={"note": 'quotes " and, commas\nand lines'})
    admin = people.super_admin
    listed_ids = [e["id"] for e in listed(stack, admin, project, action="projects.application.updated")]

    status, content_type, ndjson = download(stack, admin, f"format=ndjson&project_id={project}")
    assert (status, content_type) == (200, "application/x-ndjson")
    lines = [json.loads(line) for line in ndjson.splitlines()]
    assert [entry["id"] for entry in lines] == listed_ids
    assert lines[0]["details"] == {"note": 'quotes " and, commas\nand lines'}
    assert set(lines[0]) >= {
        "id",
        "user_id",
        "username",
        "action",
        "resource_type",
        "created_at",
        "ip_address",
    }

    status, content_type, text = download(stack, admin, f"format=csv&project_id={project}")
    assert (status, content_type) == (200, "text/csv; charset=utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in rows] == listed_ids
    assert json.loads(rows[0]["details"]) == {"note": 'quotes " and, commas\nand lines'}
    assert rows[0]["ip_address"] == "192.0.2.10"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("resource_type=widget", "resource_type"),
        ("ip=not-an-address", "ip"),
        ("ip=10.0.0.0/99", "ip"),
        ("action=Projects..X", "action"),
        ("user_id=nobody", "user_id"),
        ("resource_id=12", "resource_id"),
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
        (f"query={'x' * 501}", "query"),
    ],
)
def test_bad_input_is_refused_naming_its_field(stack, people, query, field):
    for path in ("/v1/audit-logs", "/v1/audit-logs:export"):
        status, body = call(stack, people.super_admin, "GET", f"{path}?{query}")
        assert status == 400, (path, body)
        assert body["details"][0]["field_violations"][0]["field"] == field, (path, body)
    status, body = call(stack, people.super_admin, "GET", "/v1/audit-logs:export?format=xml")
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == "format"


@pytest.mark.parametrize(
    ("query", "field"), [("page_size=1000", "page_size"), ("page_token=garbage", "page_token")]
)
def test_a_bad_page_is_refused_naming_its_field(stack, people, query, field):
    status, body = call(stack, people.super_admin, "GET", f"/v1/audit-logs?{query}")
    assert status == 400 and body["details"][0]["field_violations"][0]["field"] == field, body


def test_an_entry_nobody_has_is_not_found(stack, people):
    status, body = call(stack, people.super_admin, "GET", "/v1/audit-logs/987654321")
    assert status == 404, body
