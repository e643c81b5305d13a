"""ORM-free tests of tools/session_rules.py (no Odoo, no database).

scripts/test runs them with the tools virtualenv, where Odoo is not installed: the
module under test must not import ``odoo``.

The module is loaded by file path (the addon's root ``__init__.py`` imports the ORM,
so it cannot be imported as a package here). Three ways to get it in a test file:

* the ``rules`` fixture (session scope, safe with hypothesis' ``@given``)::

      def test_x(rules):
          assert rules.some_function(...)

* ``import spa_session_rules`` at the top of a test module: this conftest registers
  the loaded module under that name before test modules are collected, which also
  lets strategies be built from its constants at import time;

* the ``load_rules`` fixture, which returns the ``load_rules()`` loader itself.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RULES_PATH = REPO_ROOT / "tools" / "session_rules.py"
MODULE_NAME = "spa_session_rules"


def load_rules():
    """Return tools/session_rules.py as a module, loaded once by file path.

    It is registered in sys.modules before execution: dataclasses, typing and pickle
    look classes up there by ``__module__``.
    """
    module = sys.modules.get(MODULE_NAME)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(MODULE_NAME, RULES_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[MODULE_NAME]
        raise
    return module


if RULES_PATH.is_file():
    load_rules()  # makes "import spa_session_rules" work in test modules


@pytest.fixture(scope="session")
def rules():
    if not RULES_PATH.is_file():
        pytest.fail(f"{RULES_PATH.relative_to(REPO_ROOT)} does not exist")
    return load_rules()


@pytest.fixture(name="load_rules", scope="session")
def load_rules_fixture():
    return load_rules


try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is optional for a bare "pytest tests_pure"
    pass
else:
    # No wall-clock deadline: CI machines are slow and shared. In CI, derandomize so
    # a run is reproducible, and keep no example database.
    settings.register_profile(
        "spa-dev",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "spa-ci",
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(
        os.environ.get("HYPOTHESIS_PROFILE")
        or ("spa-ci" if os.environ.get("CI") else "spa-dev")
    )
