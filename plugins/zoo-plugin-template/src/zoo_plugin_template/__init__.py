"""A template transferzoo plugin: contributes the ``template-cosine`` task head and the
``template-centering`` domain-adaptation method.

Rename it and replace the head with your own components; see README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zoo import hookimpl
from zoo.contracts import AdaptationNeeds

__all__ = ["CosineHeadOptions", "build_cosine_head", "register_heads", "CenteringOptions", "TemplateCentering",
           "register_adaptation_methods"]


@dataclass(frozen=True)
class CosineHeadOptions:
    """Options of ``template-cosine``: every field has a type, a default and help text."""

    scale: float = field(default=16.0, metadata={"help": "logits are scale x cosine(feature, class weight)"})

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")


def build_cosine_head(in_features: int, num_classes: int, options: CosineHeadOptions | None = None):
    """A cosine classifier: scaled cosine similarity between features and one weight vector per class."""
    from .head import CosineHead  # torch is imported here, not when zoo loads the plugin

    opts = options or CosineHeadOptions()
    return CosineHead(in_features, num_classes, opts.scale)


@hookimpl
def register_heads(register):
    # the summary defaults to the first docstring line of the registered object
    register("template-cosine", build_cosine_head, options=CosineHeadOptions)


# --- a domain-adaptation method ------------------------------------------------------------


@dataclass(frozen=True)
class CenteringOptions:
    """Options of ``template-centering``."""

    scale: bool = field(default=False, metadata={"help": "also divide each domain by its own feature std"})


class _Centered:
    """A classifier fitted on centred source features, predicting on target features centred by the target mean."""

    def __init__(self, classifier, mean, std):
        self.classifier, self.mean, self.std = classifier, mean, std

    @property
    def classes_(self):
        return self.classifier.classes_

    def predict(self, X):
        return self.classifier.predict((X - self.mean) / self.std)

    def predict_proba(self, X):
        return self.classifier.predict_proba((X - self.mean) / self.std)


class TemplateCentering:
    """Per-domain feature centring: each domain's features minus its own mean before the probe."""

    level = "features"
    needs = AdaptationNeeds(source_labels=True)

    def __init__(self, options: CenteringOptions | None = None):
        self.options = options or CenteringOptions()

    def _stats(self, X):
        import numpy as np

        std = X.std(axis=0) if self.options.scale else np.ones(X.shape[1])
        return X.mean(axis=0), np.where(std > 1e-6, std, 1.0)

    def fit(self, make_classifier, Xs, ys, Xt, *, seed: int = 0):
        mean_s, std_s = self._stats(Xs)
        mean_t, std_t = self._stats(Xt)
        return _Centered(make_classifier().fit((Xs - mean_s) / std_s, ys), mean_t, std_t)


@hookimpl
def register_adaptation_methods(register):
    register("template-centering", TemplateCentering, options=CenteringOptions)
