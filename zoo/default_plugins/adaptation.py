"""Builtin domain-adaptation methods (kind ``adaptation``), each with its options and needs.

Feature level (a probe on frozen features that also sees the unlabeled target features):
``coral`` (skada's CORAL adapter), ``self-training`` (iterated confident pseudo-labels) and
``dann`` (domain-adversarial network over the features). Model level (the backbone itself
changes): ``adabn`` (BatchNorm statistics re-estimated on target) and ``tent`` (entropy
minimization on normalization affine parameters, needs a trained head).
Implementations live in :mod:`zoo.adapt`; this module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..contracts import AdaptationNeeds
from ..hookspecs import hookimpl

__all__ = ["CoralOptions", "SelfTrainingOptions", "DannOptions", "AdaBNOptions", "TentOptions",
           "Coral", "SelfTraining", "Dann", "AdaBN", "Tent"]


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class CoralOptions:
    reg: float = field(default=0.9, metadata={
        "help": "covariance shrinkage towards the identity, in (0, 1] (skada CORALAdapter reg)",
        "search": (0.1, 0.5, 0.9)})

    def __post_init__(self) -> None:
        if not 0 < self.reg <= 1:
            raise ValueError(f"reg must be in (0, 1], got {self.reg!r}")


@dataclass(frozen=True)
class SelfTrainingOptions:
    rounds: int = field(default=3, metadata={"help": "pseudo-labelling rounds", "search": (1, 3, 5)})
    keep: float = field(default=0.8, metadata={
        "help": "fraction of the unlabeled target kept each round (the most confident)", "search": (0.5, 0.8, 1.0)})

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds!r}")
        if not 0 < self.keep <= 1:
            raise ValueError(f"keep must be in (0, 1], got {self.keep!r}")


@dataclass(frozen=True)
class DannOptions:
    hidden: int = field(default=256, metadata={"help": "width of the feature network"})
    epochs: int = field(default=20, metadata={"help": "passes over the source features"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    domain_weight: float = field(default=1.0, metadata={
        "help": "final weight of the reversed domain loss (ramped up as in Ganin et al.)", "search": (0.1, 0.3, 1.0)})
    batch_size: int = field(default=128, metadata={"help": "source examples per step (as many target)"})

    def __post_init__(self) -> None:
        for name in ("hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        _positive("lr", self.lr)
        if not self.domain_weight >= 0:
            raise ValueError(f"domain_weight must be >= 0, got {self.domain_weight!r}")


@dataclass(frozen=True)
class AdaBNOptions:
    batch_size: int = field(default=64, metadata={"help": "target examples per forward pass"})

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size!r}")


@dataclass(frozen=True)
class TentOptions:
    steps: int = field(default=1, metadata={"help": "passes over the unlabeled target split"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate", "search": (1e-4, 1e-3)})
    batch_size: int = field(default=64, metadata={"help": "target examples per step"})

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be at least 1, got {self.steps!r}, {self.batch_size!r}")
        _positive("lr", self.lr)


class _Method:
    level = "features"
    needs = AdaptationNeeds()
    options_type: type = object

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.options_type()


class Coral(_Method):
    """CORAL: re-colour source features with the target covariance, then fit the probe on them."""

    needs = AdaptationNeeds(source_labels=True)
    options_type = CoralOptions

    def fit(self, make_classifier: Callable[[], Any], Xs: Any, ys: Any, Xt: Any, *, seed: int = 0) -> Any:
        from ..adapt.features import fit_coral

        return fit_coral(make_classifier, Xs, ys, Xt, reg=self.options.reg)


class SelfTraining(_Method):
    """Self-training: refit the probe on source plus confidently pseudo-labeled target features."""

    needs = AdaptationNeeds(source_labels=True)
    options_type = SelfTrainingOptions

    def fit(self, make_classifier: Callable[[], Any], Xs: Any, ys: Any, Xt: Any, *, seed: int = 0) -> Any:
        from ..adapt.features import fit_self_training

        return fit_self_training(make_classifier, Xs, ys, Xt, rounds=self.options.rounds, keep=self.options.keep)


class Dann(_Method):
    """DANN: a feature network trained against a domain classifier through gradient reversal."""

    needs = AdaptationNeeds(source_labels=True)
    options_type = DannOptions

    def fit(self, make_classifier: Callable[[], Any], Xs: Any, ys: Any, Xt: Any, *, seed: int = 0) -> Any:
        from ..adapt.dann import fit_dann

        o = self.options
        return fit_dann(Xs, ys, Xt, hidden=o.hidden, epochs=o.epochs, lr=o.lr, domain_weight=o.domain_weight,
                        batch_size=o.batch_size, seed=seed)


class AdaBN(_Method):
    """AdaBN: BatchNorm running statistics re-estimated on the unlabeled target split."""

    level = "model"
    needs = AdaptationNeeds(batchnorm=True)
    options_type = AdaBNOptions

    def adapt(self, backbone: Any, target_batches: Callable[[int], Any], *, seed: int = 0,
              logits: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        from ..adapt.norm import adabn, batchnorm_layers

        seen = adabn(backbone, target_batches(self.options.batch_size), backbone.forward_features)
        return {"examples": seen, "batchnorm_layers": len(batchnorm_layers(backbone))}


class Tent(_Method):
    """TENT: minimize prediction entropy on the target by updating normalization affine parameters."""

    level = "model"
    needs = AdaptationNeeds()
    options_type = TentOptions

    def adapt(self, backbone: Any, target_batches: Callable[[int], Any], *, seed: int = 0,
              logits: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        from ..adapt.norm import norm_layers, tent
        from ..errors import AdaptationError

        if logits is None:
            raise AdaptationError("tent needs a classifier's logits: train a head ([training] epochs > 0)",
                                  method="tent", missing=("head",))
        o = self.options
        losses = tent(backbone, lambda: target_batches(o.batch_size), logits, steps=o.steps, lr=o.lr, seed=seed)
        return {"entropy": losses, "norm_layers": len(norm_layers(backbone))}


@hookimpl
def register_adaptation_methods(register):
    register("coral", Coral, options=CoralOptions, summary="CORAL feature alignment (skada) before the probe")
    register("self-training", SelfTraining, options=SelfTrainingOptions,
             summary="iterated pseudo-labels on confident target examples")
    register("dann", Dann, options=DannOptions, summary="domain-adversarial network over frozen features")
    register("adabn", AdaBN, options=AdaBNOptions, summary="BatchNorm statistics re-estimated on target data")
    register("tent", Tent, options=TentOptions, summary="test-time entropy minimization on norm affine parameters")
