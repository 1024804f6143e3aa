"""Named, deterministic distribution shifts of grey images, for domain-adaptation benchmarks.

A dataset option ``shift = "NAME"`` applies one to every image the loader reads (the name is part
of the dataset's fingerprint). Each shift maps images with values in ``[0, maxval]`` to the same
range (uint8 images stay uint8, rounded), and is a pure function of the images (noise uses a fixed seed):

* ``rotate30``: rotated 30 degrees counter-clockwise about the centre (bilinear, zero fill);
* ``noise0.3``: additive Gaussian noise with standard deviation 0.3 * maxval, clipped;
* ``invert``: contrast inversion, ``maxval - x``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SHIFTS", "apply_shift"]

SHIFTS: tuple[str, ...] = ("rotate30", "noise0.3", "invert")
_NOISE_SEED = 12345


def apply_shift(images: np.ndarray, name: str, *, maxval: float) -> np.ndarray:
    """``images`` (N, H, W) under the named shift, in ``[0, maxval]``: uint8 images stay uint8
    (rounded), anything else comes back as float32."""
    images = np.asarray(images)
    shifted = _shift(images.astype(np.float32), name, maxval)
    if images.dtype == np.uint8:
        return np.clip(np.rint(shifted), 0, 255).astype(np.uint8)
    return shifted


def _shift(x: np.ndarray, name: str, maxval: float) -> np.ndarray:
    if name == "invert":
        return maxval - x
    if name == "noise0.3":
        noise = np.random.default_rng(_NOISE_SEED).normal(0.0, 0.3 * maxval, x.shape).astype(np.float32)
        return np.clip(x + noise, 0.0, maxval)
    if name == "rotate30":
        from PIL import Image

        return np.stack([np.asarray(Image.fromarray(im, mode="F").rotate(30, resample=Image.BILINEAR),
                                    dtype=np.float32) for im in x])
    raise ValueError(f"unknown shift {name!r}; choose one of {', '.join(SHIFTS)}")
