"""Every hook a transferzoo plugin can implement, typed and documented.

A plugin is a module (or any object) with functions marked ``@hookimpl`` whose names are
hook names below::

    from zoo import hookimpl

    @hookimpl
    def register_heads(register):
        register("cosine", build_cosine_head, options=CosineOptions)

Contribution hooks (``register_*``) receive a ``register`` callback owned by zoo, so zoo
records which plugin contributed each component, validates it, and refuses two components
of one kind with the same name (:class:`zoo.errors.ComponentCollisionError`, naming both
plugins; there is no override rule: rename one, or disable one with ``ZOO_DISABLE_PLUGINS``).
Lifecycle hooks (``zoo_*``) are called by the experiment runner so that loggers and trackers
can be plugins. ``docs/hooks.md`` is generated from this module (``python -m zoo.catalog.docgen``).

This module imports nothing heavy: importing it must stay cheap for ``zoo --help``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

import pluggy

__all__ = [
    "PROJECT",
    "hookspec",
    "hookimpl",
    "ComponentRegister",
    "BackboneRegister",
    "CommandRegister",
]

PROJECT = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification (only this module uses it)."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a hook implementation in a plugin; also importable as ``from zoo import hookimpl``."""


class ComponentRegister(Protocol):
    """The ``register`` callback of the component hooks.

    ``register(name, obj, *, summary="", options=None)``: ``name`` is unique within its kind;
    ``summary`` defaults to the first line of ``obj``'s docstring; ``options`` is a dataclass
    type whose fields all have defaults, supported types (bool, int, float, str, ``Literal``,
    ``tuple[X, ...]``, optional ``X | None``) and ``metadata={"help": "..."}``.
    """

    def __call__(self, name: str, obj: Any, *, summary: str = "", options: type | None = None) -> None: ...


class BackboneRegister(Protocol):
    """The ``register`` callback of :func:`register_backbones`: ``register(entry)``.

    ``entry`` is a raw registry-entry table with the same keys as an entry of
    ``registry.toml``; the registry layer validates it and records the plugin as its source.
    """

    def __call__(self, entry: Mapping[str, Any]) -> None: ...


class CommandRegister(Protocol):
    """The ``register`` callback of :func:`register_commands`.

    ``register(name, *, configure, run, summary)``: ``configure(parser)`` adds arguments to the
    ``argparse`` sub-parser of ``zoo NAME``; ``run(args)`` executes the command and returns an
    exit status (``None`` means 0).
    """

    def __call__(
        self,
        name: str,
        *,
        configure: Callable[[Any], None],
        run: Callable[[Any], int | None],
        summary: str,
    ) -> None: ...


# --- contribution hooks: components -----------------------------------------------------


@hookspec
def register_architectures(register: ComponentRegister) -> None:
    """Contribute architectures: how a registry entry's architecture id becomes a module.

    Called once per plugin manager, the first time an architecture is looked up or listed.
    ``register(name, obj, summary=..., options=...)`` where ``name`` is the architecture id used
    in registry entries (``architecture = "bert"``) and ``obj`` is the builder the model loader
    calls (see the registry and model docs for its signature). Kind: ``"architecture"``.
    """


@hookspec
def register_backbones(register: BackboneRegister) -> None:
    """Contribute registry entries (pretrained backbones) from a plugin.

    Called once per plugin manager, when the registry is assembled. ``register(entry)`` takes
    one raw table with the keys of a ``registry.toml`` entry. The registry validates it like a
    file entry and names the plugin as its source in errors and in ``zoo info``.
    """


@hookspec
def register_heads(register: ComponentRegister) -> None:
    """Contribute task heads.

    ``register(name, build, summary=..., options=...)`` where
    ``build(in_features: int, num_classes: int, options) -> torch.nn.Module`` returns a module
    mapping features of shape ``(batch, in_features)`` to ``(batch, num_classes)``; ``options``
    is an instance of the options dataclass (or ``None`` for its defaults). Kind: ``"head"``.
    """


@hookspec
def register_freezing_policies(register: ComponentRegister) -> None:
    """Contribute freezing policies: which parameters train during transfer.

    ``register(name, apply, summary=..., options=...)`` where
    ``apply(model, options, *, head_prefix="head") -> zoo.contracts.FreezeReport`` sets
    ``requires_grad`` on every parameter of ``model`` (absolutely, not relative to its current
    state) and reports the result. ``model`` keeps its backbone under ``backbone.`` and its head
    under ``head_prefix + "."``; the head stays trainable. Kind: ``"freezing"``.
    """


@hookspec
def register_compression_passes(register: ComponentRegister) -> None:
    """Contribute compression passes (quantization, pruning, ...).

    ``register(name, spec, summary=..., options=...)`` where ``spec`` is a
    :class:`zoo.compress.PassSpec` (plain data: the function, the state tags it needs and
    changes, the architecture ``capabilities`` it needs) or a bare function
    ``apply(model, options, *, example_inputs=None, data=None) -> zoo.contracts.PassResult``
    returning the compressed model and a JSON-ready ``info`` dict. Sizes, output change,
    latency and the task metric are measured by the pipeline. ``example_inputs`` is a tuple of
    positional inputs for calibration, or ``None``. Kind: ``"compression"``.
    """


@hookspec
def register_evaluators(register: ComponentRegister) -> None:
    """Contribute evaluators (probes on frozen features).

    ``register(name, cls, summary=..., options=...)`` where ``cls`` is a scikit-learn style
    estimator class: its constructor arguments are the option fields, ``fit(X, y)`` returns
    ``self``, learned attributes end in ``_``, and it has ``predict``, ``score``, ``get_params``
    and ``set_params`` (``predict_proba`` where it makes sense). Kind: ``"evaluator"``.
    """


@hookspec
def register_adaptation_methods(register: ComponentRegister) -> None:
    """Contribute domain-adaptation methods (same feature space, shifted data distribution).

    ``register(name, cls, summary=..., options=...)`` where ``cls(options)`` builds the method
    and has ``level`` (``"features"`` or ``"model"``) and ``needs`` (a
    :class:`zoo.contracts.AdaptationNeeds`); see :class:`zoo.contracts.AdaptationMethod`.
    A recipe that cannot meet ``needs`` is refused at validation. Kind: ``"adaptation"``.
    """


@hookspec
def register_datasets(register: ComponentRegister) -> None:
    """Contribute datasets (loaders of labelled examples for transfer experiments).

    ``register(name, loader, summary=..., options=...)`` where ``loader`` is the object the data
    layer calls to produce splits (see the data docs for its signature). Kind: ``"dataset"``.
    """


@hookspec
def register_commands(register: CommandRegister) -> None:
    """Contribute ``zoo`` sub-commands.

    Called when the CLI builds its parser, so it must be cheap: import heavy libraries inside
    ``run``. ``register(name, configure=..., run=..., summary=...)``: see
    :class:`CommandRegister`. Kind: ``"command"``.
    """


# --- lifecycle hooks: experiments -------------------------------------------------------


@hookspec
def zoo_experiment_start(run: Any) -> None:
    """Called once when an experiment starts, before the first epoch.

    ``run`` is the runner's run object (its attributes are defined by the runner: the recipe,
    the run directory, the seed, ...). Read them with ``getattr(run, name, default)`` so the
    plugin keeps working as the runner grows. Exceptions propagate to the runner.
    """


@hookspec
def zoo_stage_start(run: Any, stage: str) -> None:
    """Called before each stage of a run: ``prepare``, ``adapt``, ``features``, ``train``,
    ``compress``, ``evaluate``, ``record`` (:data:`zoo.runner.stages.STAGES`).

    ``run`` is the run state (:class:`zoo.runner.stages.RunState`: recipe, seed, device, splits,
    model, results so far) and ``stage`` the stage's name. Exceptions stop the run.
    """


@hookspec
def zoo_stage_end(run: Any, stage: str) -> None:
    """Called after each stage of a run (see ``zoo_stage_start``), with what the stage wrote on
    ``run``; ``stage`` is its name. Exceptions stop the run."""


@hookspec
def zoo_epoch_end(run: Any, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after every training epoch.

    ``run`` is the runner's run object, ``epoch`` counts from 0, and ``metrics`` maps metric
    names (``"train_loss"``, ``"val_accuracy"``, ...) to floats for that epoch.
    """


@hookspec
def zoo_experiment_finish(run: Any, record: Any) -> None:
    """Called once when an experiment finishes successfully, after its files are written.

    ``run`` is the runner's run object and ``record`` is the run record the runner writes (the
    typed :class:`zoo.runner.record.RunRecord`: inputs, hashes, options, metrics). An observer
    cannot cost the user the run: the run directory is finalized first, then an exception raised
    here is reported (:class:`zoo.errors.HookError`, exit status 1).
    """
