"""Where the repository is, for tests that start its programs or read its files."""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
