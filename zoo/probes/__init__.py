"""Probe estimators behind the builtin evaluators (scikit-learn style, on frozen features).

Submodules import scikit-learn at import time; the plugin modules that register them
(:mod:`zoo.default_plugins.probes`) import them only when evaluators are collected.
"""
