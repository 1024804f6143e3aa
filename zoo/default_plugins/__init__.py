"""Builtin plugins: plain plugin modules, registered exactly like third-party plugins.

``zoo.plugins.DEFAULT_PLUGINS`` lists them. None may import torch, scikit-learn or numpy at
module import: ``zoo --help`` must stay fast. Heavy imports happen inside the functions.
"""
