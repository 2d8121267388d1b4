"""An application's source_config and docker_config, checked at create and update (pure).

docker_config goes through the kit's parser (dockyard_kit/docker_config.py), the rules the deployer
deploys by, so a bad key is refused here, naming its path (`docker_config.ports[0].mode`), rather
than at deploy time. Its registry password is a secret: the stored JSON holds the mask in its
place, and the password itself is sealed in a column of its own (applications.registry_password,
migration 0005), opened only for the deploy spec."""

import urllib.parse

from dockyard_kit import docker_config, protoconv
from dockyard_kit.errors import InvalidArgument

DOCKER_CONFIG = "docker_config"
SOURCE_CONFIG = "source_config"
PASSWORD_PATH = f"{DOCKER_CONFIG}.registry_auth.password"
# A git application's source_config: where to clone from (else its git source's repository on the
# provider) and what to build, relative to the repository's root.
GIT_SOURCE_KEYS = ("repository_url", "dockerfile", "context")
DEFAULT_DOCKERFILE = "Dockerfile"
DEFAULT_CONTEXT = "."
CLONE_SCHEMES = ("http", "https", "ssh", "git", "file")
MAX_PATH_LENGTH = 1024


def check_docker_config(type_: str, config: dict) -> dict:
    """The docker_config to store. A docker application's names its image once it names anything
    (an empty one is an application still being described; the deploy spec refuses it)."""
    config = protoconv.integral_numbers(config)
    parsed = docker_config.parse(config, DOCKER_CONFIG)
    if type_ == "docker" and config and parsed.image is None:
        raise InvalidArgument(f"{DOCKER_CONFIG}.image", "is required for a docker application")
    return config


def _relative_path(value, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATH_LENGTH:
        raise InvalidArgument(path, f"must be a path of 1-{MAX_PATH_LENGTH} characters")
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        raise InvalidArgument(path, "must be relative to the repository's root, without '..'")
    return value


def _clone_url(value, path: str) -> str:
    if not isinstance(value, str) or any(character.isspace() for character in value):
        raise InvalidArgument(path, "must be a URL without spaces")
    url = urllib.parse.urlsplit(value)
    if url.scheme not in CLONE_SCHEMES or not (url.netloc or (url.scheme == "file" and url.path)):
        raise InvalidArgument(path, f"must be a {', '.join(CLONE_SCHEMES)} URL")
    return value


def check_source_config(type_: str, config: dict) -> dict:
    """The source_config to store: a git application's keys are checked (other types' are free)."""
    if type_ != "git":
        return config
    for key in config:
        if key not in GIT_SOURCE_KEYS:
            raise InvalidArgument(
                f"{SOURCE_CONFIG}.{key}",
                f"unknown key (a git application's are {', '.join(GIT_SOURCE_KEYS)})",
            )
    if "repository_url" in config:
        _clone_url(config["repository_url"], f"{SOURCE_CONFIG}.repository_url")
    for key in ("dockerfile", "context"):
        if key in config:
            _relative_path(config[key], f"{SOURCE_CONFIG}.{key}")
    return config


def git_build(source_config: dict) -> tuple[str, str]:
    """The Dockerfile's path and the build context of a git application."""
    return source_config.get("dockerfile", DEFAULT_DOCKERFILE), source_config.get("context", DEFAULT_CONTEXT)


def registry_password(config: dict) -> str | None:
    """The registry password docker_config gives: None for none, the mask (SECRET_MASK) for
    "keep the stored one"."""
    auth = config.get("registry_auth")
    return auth["password"] if isinstance(auth, dict) else None


def with_password(config: dict, password: str | None) -> dict:
    """docker_config with its registry password set to `password` (the mask at rest, the plaintext
    in the deploy spec); unchanged when it names no registry."""
    auth = config.get("registry_auth")
    if not isinstance(auth, dict) or password is None:
        return config
    return {**config, "registry_auth": {**auth, "password": password}}
