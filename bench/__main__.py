"""`make bench`: every benchmark, one after the other."""

import importlib

BENCHMARKS = [
    "bench.list_users",
    "bench.identity_me_under_logins",
    "bench.list_applications",
    "bench.memory",
    "bench.read_path",
    "bench.deploy",
    "bench.audit",
]

for name in BENCHMARKS:
    importlib.import_module(name).main()
