"""The `dockyard` command line: a gRPC client of the platform, through the gateway.

In a checkout the generated stubs (`dockyard.*`) live in gen/, which `make proto` writes after the
editable install (so an install made before them cannot map them): they are found there then.
"""

import importlib.util
import pathlib
import sys

_CHECKOUT_STUBS = pathlib.Path(__file__).resolve().parent.parent / "gen"

if importlib.util.find_spec("dockyard") is None and (_CHECKOUT_STUBS / "dockyard").is_dir():
    sys.path.append(str(_CHECKOUT_STUBS))
