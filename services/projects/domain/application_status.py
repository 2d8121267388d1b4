"""Which status an application may move to (pure). The deployer's events drive the live statuses
(stopped, deploying, running, failed, scaling); archived is entered only by DeleteApplication and
left only by RestoreApplication, never by a status change."""

from dockyard_kit.errors import FailedPrecondition

ARCHIVED = "archived"
LIVE_STATUSES = ("stopped", "deploying", "running", "failed", "scaling")
STATUSES = (*LIVE_STATUSES, ARCHIVED)

# current status -> the statuses a status change may lead to.
TRANSITIONS: dict[str, frozenset[str]] = {
    # scaling: a stopped service (scaled to 0) started again by a scale, without a deployment.
    "stopped": frozenset({"deploying", "scaling"}),
    # stopped: a first deployment cancelled (nothing ran before it).
    "deploying": frozenset({"running", "failed", "stopped"}),
    "running": frozenset({"scaling", "deploying", "stopped", "failed"}),
    # stopped: scaled to 0, or the service was gone.
    "scaling": frozenset({"running", "stopped", "failed"}),
    "failed": frozenset({"deploying", "stopped"}),
    ARCHIVED: frozenset(),
}


def can_change(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def check_change(current: str, new: str) -> None:
    """Raises FAILED_PRECONDITION unless a status change may take `current` to `new`."""
    if new not in LIVE_STATUSES:
        raise FailedPrecondition(
            f"status {new!r} cannot be set by a status change"
            + ("; archive with DeleteApplication" if new == ARCHIVED else "")
        )
    if current == ARCHIVED:
        raise FailedPrecondition("the application is archived; restore it first")
    if not can_change(current, new):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
        raise FailedPrecondition(f"an application {current} cannot become {new} (only {allowed})")
