"""Where the command line keeps its tokens: one JSON file under the user's config directory
($XDG_CONFIG_HOME/dockyard, default ~/.config/dockyard), readable by the user alone (file 0600,
directory 0700), holding for each server the access and refresh tokens of the last login there.
Passwords are never written; a token given in DOCKYARD_TOKEN is never written either."""

import contextlib
import dataclasses
import json
import os
import pathlib
import tempfile

FILE_NAME = "credentials.json"


def config_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(pathlib.Path.home() / ".config")
    return pathlib.Path(base) / "dockyard"


@dataclasses.dataclass
class Session:
    """What one login to one server left: the tokens and who signed in."""

    access_token: str
    refresh_token: str
    username: str = ""


class CredentialStore:
    def __init__(self, directory: pathlib.Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / FILE_NAME

    def _read(self) -> dict[str, dict]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # An unreadable or damaged file holds no usable session; the next login rewrites it.
            return {}
        servers = document.get("servers") if isinstance(document, dict) else None
        return servers if isinstance(servers, dict) else {}

    def _write(self, servers: dict[str, dict]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        # Written to a private temporary file and renamed over the old one, so a crash never leaves
        # half a file, and the tokens are never readable by others, not even for a moment.
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".credentials-")
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump({"servers": servers}, file, indent=2)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def load(self, server: str) -> Session | None:
        entry = self._read().get(server)
        if not isinstance(entry, dict) or not entry.get("access_token"):
            return None
        return Session(
            access_token=str(entry["access_token"]),
            refresh_token=str(entry.get("refresh_token", "")),
            username=str(entry.get("username", "")),
        )

    def save(self, server: str, session: Session) -> None:
        servers = self._read()
        servers[server] = dataclasses.asdict(session)
        self._write(servers)

    def forget(self, server: str) -> Session | None:
        """Removes the server's session; returns what it was."""
        servers = self._read()
        entry = servers.pop(server, None)
        if entry is None:
            return None
        self._write(servers)
        return Session(
            access_token=str(entry.get("access_token", "")),
            refresh_token=str(entry.get("refresh_token", "")),
            username=str(entry.get("username", "")),
        )
