"""How the tests are laid out, checked: a test module takes shared helpers from tests/support, never
from a conftest (pytest's, not an importable module) or from another area's tests; tests/support
imports no area. Fixtures shared across areas are plugins (tests/conftest.py `pytest_plugins`)."""

import ast

from tests.support.paths import REPO_ROOT

TESTS = REPO_ROOT / "tests"
SHARED = {"support", "docker_support"}


def imported_modules(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def wrong_imports(tests_dir) -> list[str]:
    """ "file imports module" for every import of a conftest or of another area's tests."""
    wrong = []
    for path in sorted(tests_dir.rglob("*.py")):
        area = path.relative_to(tests_dir).parts[0] if path.parent != tests_dir else ""
        allowed = SHARED | ({area} if area not in ("", "support") else set())
        for module in imported_modules(path):
            parts = module.split(".")
            reaches_elsewhere = parts[0] == "tests" and len(parts) > 1 and parts[1] not in allowed
            if "conftest" in parts or reaches_elsewhere:
                wrong.append(f"{path.relative_to(tests_dir.parent)} imports {module}")
    return wrong


def test_no_test_module_imports_a_conftest_or_another_areas_tests():
    assert not wrong_imports(TESTS), "\n".join(wrong_imports(TESTS))
