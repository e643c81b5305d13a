"""pytest plugin loaded by scripts/test next to pytest-odoo (``-p _pytest_spa``).

* ``--spa-test-tags SPEC`` keeps the tests that Odoo's own ``--test-tags SPEC`` would
  select (same syntax and meaning: Odoo's ``TagsSelector`` decides), e.g.
  ``/spa_session_protocol:TestBooking,/spa_session_protocol:TestUi.test_tour_x`` or
  a feature tag such as ``spa_reports``; the others are deselected.
* Odoo's runner runs the test modules that ``tests/__init__.py`` imports; pytest
  collects every ``tests/test_*.py``. Both views must be the same suite: a file that
  one of them would miss stops the run with a message naming it.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = "odoo.addons.spa_session_protocol.tests"


def pytest_addoption(parser):
    parser.addoption(
        "--spa-test-tags",
        action="store",
        default="",
        help="keep only the tests Odoo's --test-tags SPEC would run",
    )


def _same_suite_both_ways():
    package = sys.modules.get(PACKAGE)
    if package is None:
        raise pytest.UsageError(f"{PACKAGE} was not imported: nothing was collected")
    # what tests/__init__.py imports, read from its source: by now pytest has
    # imported every test_*.py itself, which makes each an attribute of the package
    init = Path(package.__file__)
    imported = {
        alias.name
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module
        for alias in node.names
        if alias.name.startswith("test_")
    }
    files = {path.stem for path in init.parent.glob("test_*.py")}
    if imported != files:
        lines = []
        if files - imported:
            lines.append(
                "not imported by tests/__init__.py (Odoo's runner would skip them): "
                + ", ".join(sorted(files - imported))
            )
        if imported - files:
            lines.append(
                "imported by tests/__init__.py but not a tests/test_*.py file "
                "(pytest would skip them): " + ", ".join(sorted(imported - files))
            )
        raise pytest.UsageError(
            "tests/__init__.py and tests/test_*.py disagree: " + "; ".join(lines)
        )


def pytest_collection_modifyitems(session, config, items):
    _same_suite_both_ways()
    spec = config.getoption("--spa-test-tags")
    if not spec:
        return
    from odoo.tests.tag_selector import TagsSelector

    selector = TagsSelector(spec)
    selected, deselected = [], []
    for item in items:
        cls = getattr(item, "cls", None)
        keep = False
        if cls is not None and hasattr(cls, "test_tags"):
            # a TestCase instance costs nothing until it runs
            keep = selector.check(cls(item.name))
        (selected if keep else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
