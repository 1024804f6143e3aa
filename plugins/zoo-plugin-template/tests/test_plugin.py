"""Run zoo's conformance kit on every component of this plugin."""

import zoo_plugin_template
from zoo.testing import parametrize_with_checks


@parametrize_with_checks(zoo_plugin_template)
def test_conformance(component, check):
    check(component)
