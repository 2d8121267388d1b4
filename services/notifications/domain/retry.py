"""When a failed delivery is tried again: exponential backoff with jitter, capped, until the
delivery is given up. Pure, so that the schedule can be tested without a clock."""

import dataclasses
import datetime
import random


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    # The delay after the first failed attempt, before jitter.
    base_seconds: float
    # No two tries further apart than this.
    max_seconds: float
    # Given up once the next try would come later than this after the delivery was made.
    give_up_seconds: float

    def delay(self, attempts: int, rand: random.Random | None = None) -> float:
        """The wait after `attempts` failed attempts (1 for the first): base * 2^(attempts-1), capped,
        of which the upper half is random ("equal jitter"), so that deliveries failing together (a
        receiver down) do not all come back at the same moment, and none comes back sooner than half
        its step."""
        step = min(self.max_seconds, self.base_seconds * 2 ** min(attempts - 1, 60))
        return step / 2 + (rand or random).uniform(0, step / 2)

    def next_attempt(
        self,
        created_at: datetime.datetime,
        now: datetime.datetime,
        attempts: int,
        rand: random.Random | None = None,
    ) -> datetime.datetime | None:
        """When to try again after `attempts` failed attempts, or None to give up."""
        when = now + datetime.timedelta(seconds=self.delay(attempts, rand))
        if when > created_at + datetime.timedelta(seconds=self.give_up_seconds):
            return None
        return when
