"""Random train / validation / test split.

The training set fits the parameters, the validation set chooses among models and
hyperparameters, and the test set is looked at once, at the end, to estimate how the chosen
model does on data it has never influenced. The split is a seeded permutation of the row
indices, cut into three consecutive blocks of the requested sizes.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_float, check_int, check_seed

__all__ = ["train_val_test_split"]


def train_val_test_split(*arrays, val_size: float = 0.2, test_size: float = 0.2,
                         seed: int | None = 0):
    """Split arrays with the same number of rows into train, validation and test parts.

    Returns ``(a_train, a_val, a_test, b_train, b_val, b_test, ...)`` for arrays ``a, b, ...``,
    in the style of scikit-learn's ``train_test_split``. Sizes are fractions of the rows;
    each part gets at least one row.
    """
    if not arrays:
        raise TypeError("train_val_test_split needs at least one array")
    val_size = check_float("val_size", val_size, minimum=0.0, maximum=1.0, strict_min=True,
                           strict_max=True)
    test_size = check_float("test_size", test_size, minimum=0.0, maximum=1.0, strict_min=True,
                            strict_max=True)
    if val_size + test_size >= 1.0:
        raise ValueError(f"val_size + test_size must be < 1 so that rows are left to train on, "
                         f"got {val_size} + {test_size}")
    seed = check_seed("seed", seed)
    converted = []
    for i, a in enumerate(arrays):
        if not hasattr(a, "__len__") or isinstance(a, (str, bytes)):
            raise TypeError(f"argument {i} must be an array or list, got {type(a).__name__}")
        converted.append(np.asarray(a))
    n = len(converted[0])
    for i, a in enumerate(converted):
        if len(a) != n:
            raise ValueError(f"all arrays must have the same number of rows: argument 0 has {n}, "
                             f"argument {i} has {len(a)}")
    check_int("number of rows", n, minimum=3)
    n_test = max(1, int(round(test_size * n)))
    n_val = max(1, int(round(val_size * n)))
    if n_test + n_val >= n:
        raise ValueError(f"{n} rows are too few for these sizes")
    order = np.random.default_rng(seed).permutation(n)
    test_idx, val_idx, train_idx = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    out = []
    for a in converted:
        out.extend([a[train_idx], a[val_idx], a[test_idx]])
    return tuple(out)
