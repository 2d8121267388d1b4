"""Sources: a git repository cloned and checked out at a branch, tag or commit, with the `git` CLI.

git never prompts (GIT_TERMINAL_PROMPT=0): a repository that wants credentials the URL does not carry
fails at once instead of waiting for a terminal nobody watches. Credentials in the URL never reach the
output lines or errors.
"""

import asyncio
import collections
import os
import pathlib
import re
import urllib.parse
from collections.abc import Callable

from dockyard_kit.errors import FailedPrecondition

# How many of git's last output lines an error carries.
ERROR_LINES = 6

OnLine = Callable[[str], None]


def _redactor(clone_url: str) -> Callable[[str], str]:
    """Hides the URL's user:password@ part wherever git repeats it."""
    parts = urllib.parse.urlsplit(clone_url)
    if not parts.password and not parts.username:
        return lambda text: text
    secret = parts.netloc.rsplit("@", 1)[0]
    return lambda text: text.replace(secret, "***")


async def _git(args: list[str], cwd: pathlib.Path | None, on_line: OnLine, redact) -> tuple[int, list[str]]:
    """Runs git with args; its return code and last lines. Cancelling kills it."""
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"},
    )  # fmt: skip
    last: collections.deque[str] = collections.deque(maxlen=ERROR_LINES)
    try:
        pending = b""
        while chunk := await process.stdout.read(4096):
            # Progress lines end in \r: each is a line of its own.
            *complete, pending = re.split(rb"[\r\n]", pending + chunk)
            for raw in complete:
                line = redact(raw.decode(errors="replace")).rstrip()
                if line:
                    last.append(line)
                    on_line(line)
        if pending.strip():
            line = redact(pending.decode(errors="replace")).rstrip()
            last.append(line)
            on_line(line)
        return await process.wait(), list(last)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise


def _failure(code: int, lines: list[str]) -> str:
    """How git ended, in its own last words, and its exit status or the signal that stopped it."""
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return " / ".join([*lines, how])


async def _sha(dest: pathlib.Path, revision: str) -> str | None:
    """The commit revision names in dest, or None."""
    quiet: OnLine = lambda line: None  # noqa: E731
    code, lines = await _git(
        ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], dest, quiet, lambda text: text
    )
    return lines[-1] if code == 0 and lines else None


async def checkout(clone_url: str, ref: str | None, branch: str, dest: pathlib.Path, on_line: OnLine) -> str:
    """Clones clone_url into dest (which must not exist, or be empty) and checks out ref (a branch,
    tag or commit sha) or, without one, branch; the full sha of the commit checked out.
    FailedPrecondition with git's words when the clone or the revision fails."""
    redact = _redactor(clone_url)
    wanted = ref or branch
    code, lines = await _git(
        ["clone", "--progress", "--no-checkout", clone_url, str(dest)], None, on_line, redact
    )
    if code != 0:
        raise FailedPrecondition(f"git clone of {redact(clone_url)} failed: {_failure(code, lines)}")
    # A branch is the remote's (only the default branch has a local one); tags and shas resolve as is.
    sha = await _sha(dest, f"refs/remotes/origin/{wanted}") or await _sha(dest, wanted)
    if sha is None:
        # A commit no branch or tag reaches: the clone did not bring it, ask for it by name.
        await _git(["fetch", "--quiet", "origin", wanted], dest, on_line, redact)
        sha = await _sha(dest, "FETCH_HEAD") if re.fullmatch(r"[0-9a-f]{7,40}", wanted) else None
    if sha is None:
        raise FailedPrecondition(f"{redact(clone_url)} has no branch, tag or commit {wanted!r}")
    code, lines = await _git(["checkout", "--quiet", "--detach", sha], dest, on_line, redact)
    if code != 0:
        raise FailedPrecondition(f"git checkout of {wanted} ({sha}) failed: {_failure(code, lines)}")
    on_line(f"checked out {wanted} at {sha}")
    return sha
