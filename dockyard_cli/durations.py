"""Points in time on the command line: a duration back from now (`30m`, `12h`, `1d`, `2w`, or
combined, `1h30m`) or an RFC 3339 timestamp (`2026-12-01T00:00:00Z`, or a date, `2026-12-01`,
meaning its midnight UTC)."""

import datetime
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> datetime.timedelta:
    """`30m`, `1d`, `2w`, `1h30m` -> a timedelta; ValueError otherwise."""
    compact = text.strip().lower()
    if not compact or _PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration like 30m, 12h, 1d or 2w")
    seconds = sum(int(amount) * UNITS[unit] for amount, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return datetime.timedelta(seconds=seconds)


def parse_point(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """A duration ago, or a timestamp; always timezone-aware (UTC when none is given)."""
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30m, 12h, 1d, 2w) nor a timestamp (2026-12-01T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
