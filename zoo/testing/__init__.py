"""The conformance kit: checks that a plugin's components honour their contracts.

Run it from pytest (the kit is also a pytest plugin, entry point ``pytest11``, that adds the
``zoo_plugin_manager`` and ``zoo_register`` fixtures)::

    import my_zoo_plugin
    from zoo.testing import parametrize_with_checks

    @parametrize_with_checks(my_zoo_plugin)
    def test_conformance(component, check):
        check(component)

or call :func:`check_component` directly. Importing this package imports neither torch nor
scikit-learn; the checks import them when they run.
"""

from __future__ import annotations

from .checks import CHECKS, check_component, checks_for, single_threaded
from .collect import components_of, parametrize_with_checks

__all__ = ["CHECKS", "check_component", "checks_for", "components_of", "parametrize_with_checks", "single_threaded"]
