"""Real small work for the search tests: SGD logistic regression on sklearn's digits, per-epoch.

Run as a script, it is one sweep worker on a journal: ``python search_support.py SWEEP_DIR TRIALS [SLEEP]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

SPACE = {"alpha": {"low": 1e-6, "high": 1e-1, "log": True}, "epochs": {"low": 1, "high": 4},
         "loss": ["log_loss", "hinge"]}


def digits_objective(sleep: float = 0.0):
    """An objective: fit ``SGDClassifier`` epoch by epoch, reporting validation accuracy each epoch."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    tr, va = order[:1200], order[1200:]

    def objective(ctx) -> float:
        clf = SGDClassifier(alpha=ctx.params["alpha"], loss=ctx.params["loss"], random_state=ctx.number)
        acc = 0.0
        for epoch in range(int(ctx.params["epochs"])):
            clf.partial_fit(x[tr], y[tr], classes=np.arange(10))
            acc = float((clf.predict(x[va]) == y[va]).mean())
            time.sleep(sleep)
            ctx.report(epoch, acc)
        return acc

    return objective


def settings(trials: int, pruner: str = "none"):
    from zoo.search.optuna_study import StudySettings

    return StudySettings(trials=trials, seed=3, pruner=pruner, startup_trials=2, max_epochs=4)


def space():
    from zoo.search.space import parse_space

    return parse_space(SPACE)


if __name__ == "__main__":
    from zoo.search.optuna_study import run_worker

    sweep, trials = Path(sys.argv[1]), int(sys.argv[2])
    sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    res = run_worker(sweep, name="digits", settings=settings(trials), space=space(),
                     objective=digits_objective(sleep), worker=sys.argv[4] if len(sys.argv) > 4 else "")
    print(" ".join(f"{n}:{s}" for n, s in res.trials), flush=True)
