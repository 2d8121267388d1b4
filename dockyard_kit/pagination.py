"""Keyset pagination: bounded page sizes and opaque page tokens.

A page token carries the sort key of the last row served and a fingerprint of the query (which
list, which filters) it belongs to; the next page starts strictly after that key. The token is
urlsafe base64 of JSON: opaque to clients, who pass it back unchanged, and it holds nothing they
could not see already. A token replayed against other filters is refused rather than silently
serving a page of a different list.
"""

import base64
import binascii
import dataclasses
import datetime
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence

from dockyard_kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclasses.dataclass(frozen=True)
class Page:
    size: int
    # The sort key of the previous page's last row; None on the first page.
    after: str | None
    query_fingerprint: str

    @property
    def fetch_limit(self) -> int:
        """One row more than the page, to learn whether another page follows."""
        return self.size + 1

    @property
    def newest_first_after(self) -> tuple[datetime.datetime, uuid.UUID] | None:
        """The (created_at, id) of a "time|id" token (newest_first_key); None on the first page."""
        return parse_newest_first(self.after) if self.after else None


def _fingerprint(query: dict) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_page(page_size: int, page_token: str, query: dict) -> Page:
    """The page a request asks for. `query` names the list and its filters."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument(
            "page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
        )
    fingerprint = _fingerprint(query)
    return Page(
        size=page_size or DEFAULT_PAGE_SIZE,
        after=_decode(page_token, fingerprint) if page_token else None,
        query_fingerprint=fingerprint,
    )


def _decode(page_token: str, fingerprint: str) -> str:
    try:
        padded = page_token + "=" * (-len(page_token) % 4)
        content = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidArgument("page_token", "is not a page token this service issued") from None
    if not isinstance(content, dict) or not isinstance(content.get("after"), str):
        raise InvalidArgument("page_token", "is not a page token this service issued")
    if content.get("query") != fingerprint:
        raise InvalidArgument("page_token", "belongs to a different list or other filters")
    return content["after"]


def _encode(after: str, fingerprint: str) -> str:
    content = json.dumps({"after": after, "query": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(content.encode()).decode("ascii").rstrip("=")


def split_page(rows: Sequence, page: Page, key: str | Callable) -> tuple[Sequence, str]:
    """The rows to serve and the next page token ("" on the last page), from rows fetched with
    `page.fetch_limit` in `key` order; `key` is a column name or a function of the row."""
    if len(rows) <= page.size:
        return rows, ""
    served = rows[: page.size]
    last = key(served[-1]) if callable(key) else served[-1][key]
    return served, _encode(last, page.query_fingerprint)


# Newest first: lists ordered by (created_at DESC, id DESC) page on both, so rows created in the
# same microsecond are neither skipped nor repeated.


def newest_first_key(row, time_column: str = "created_at") -> str:
    return f"{row[time_column].isoformat()}|{row['id']}"


def parse_newest_first(after: str) -> tuple[datetime.datetime, uuid.UUID]:
    """The (created_at, id) a newest-first page token points after."""
    try:
        created_at, _, row_id = after.partition("|")
        return datetime.datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except ValueError:
        raise InvalidArgument("page_token", "is not a page token this service issued") from None
