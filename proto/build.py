"""Generates Python messages and gRPC stubs from proto/ into gen/, one descriptor set for Envoy, and
the OpenAPI document made from it (gen/openapi.json, by gateway/openapi.py).

Run by `make proto` (and by `make run` / `make test` when a .proto is newer than gen/).
"""

import pathlib
import subprocess
import sys

import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GEN_DIR = ROOT / "gen"
DESCRIPTOR_SET = GEN_DIR / "dockyard.pb"
# Envoy's convert_grpc_status renders google.rpc.Status details only if their types are in the set.
ERROR_PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"]


def include_dirs() -> list[str]:
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    googleapis = next(
        pathlib.Path(p) for p in sys.path if (pathlib.Path(p) / "google/api/annotations.proto").exists()
    )
    return [str(PROTO_DIR), str(googleapis), str(well_known)]


def contract_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.glob("dockyard/**/*.proto"))


def main() -> int:
    GEN_DIR.mkdir(exist_ok=True)
    includes = [f"-I{d}" for d in include_dirs()]
    files = contract_files()
    code = protoc.main(
        [
            "protoc",
            *includes,
            f"--python_out={GEN_DIR}",
            f"--pyi_out={GEN_DIR}",
            f"--grpc_python_out={GEN_DIR}",
            *files,
        ]
    )
    if code != 0:
        return code
    code = protoc.main(
        [
            "protoc",
            *includes,
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={DESCRIPTOR_SET}",
            *files,
            *ERROR_PROTOS,
        ]
    )
    if code != 0:
        return code
    # From the repository root, where the gateway's package is (this file runs as a script).
    return subprocess.run([sys.executable, "-m", "gateway.openapi"], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
