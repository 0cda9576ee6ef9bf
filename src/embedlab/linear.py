r"""Linear regression trained by full-batch gradient descent on the mean squared error.

Model and loss, for n examples with d features (rows :math:`x_i`) and targets :math:`y_i`:

.. math::

    \hat y_i = w^\top x_i + b, \qquad
    L(w, b) = \frac{1}{n} \sum_{i=1}^n (\hat y_i - y_i)^2 .

Gradients, with residuals :math:`r = Xw + b - y`:

.. math::

    \nabla_w L = \frac{2}{n} X^\top r, \qquad \frac{\partial L}{\partial b} = \frac{2}{n} \sum_i r_i .

Each step moves against the gradient: :math:`w \leftarrow w - \eta \nabla_w L`. The loss is a
convex quadratic, so with a step size below :math:`2 / \lambda_{\max}` (the largest eigenvalue of
its Hessian :math:`\frac{2}{n} [X, 1]^\top [X, 1]`) the iterates converge to the least-squares
solution, the same one that ``sklearn.linear_model.LinearRegression`` computes directly.
Features on very different scales make the Hessian ill-conditioned and convergence slow, which
is why ``standardize=True`` (the default) trains on z-scored features and maps the weights
back to the original units at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import check_array, check_float, check_int, check_same_length

__all__ = ["LinearRegressionGD", "mse"]


def mse(y_true, y_pred) -> float:
    """Mean squared error of two equally long 1-D arrays."""
    y_true = check_array("y_true", y_true, ndim=1, min_rows=1)
    y_pred = check_array("y_pred", y_pred, ndim=1, min_rows=1)
    check_same_length(y_true=y_true, y_pred=y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


@dataclass
class LinearRegressionGD:
    """Least squares by gradient descent.

    Parameters
    ----------
    learning_rate : step size, or ``None`` to use ``1 / lambda_max`` of the Hessian
        (a safe and fast choice for this quadratic loss).
    max_epochs : the most full passes over the data.
    tol : stop when the gradient's largest absolute entry falls below ``tol``.
    standardize : train on z-scored features (see the module docstring).

    After :meth:`fit`: ``coef_``, ``intercept_``, ``loss_history_`` (training MSE per epoch,
    in the original units) and ``n_epochs_``.
    """

    learning_rate: float | None = None
    max_epochs: int = 10_000
    tol: float = 1e-10
    standardize: bool = True
    coef_: np.ndarray | None = field(default=None, init=False, repr=False)
    intercept_: float | None = field(default=None, init=False, repr=False)
    loss_history_: list[float] = field(default_factory=list, init=False, repr=False)
    n_epochs_: int = field(default=0, init=False, repr=False)

    def __post_init__(self):
        if self.learning_rate is not None:
            self.learning_rate = check_float("learning_rate", self.learning_rate, minimum=0.0,
                                             strict_min=True)
        self.max_epochs = check_int("max_epochs", self.max_epochs, minimum=1)
        self.tol = check_float("tol", self.tol, minimum=0.0)
        if not isinstance(self.standardize, bool):
            raise TypeError(f"standardize must be True or False, got {self.standardize!r}")

    def fit(self, X, y) -> "LinearRegressionGD":
        """Fit on features ``X`` (n, d) and targets ``y`` (n,); returns ``self``."""
        X = check_array("X", X, ndim=2, min_rows=2)
        y = check_array("y", y, ndim=1)
        check_same_length(X=X, y=y)
        n, d = X.shape
        mean = X.mean(axis=0) if self.standardize else np.zeros(d)
        scale = X.std(axis=0) if self.standardize else np.ones(d)
        if np.any(scale == 0):
            raise ValueError("X has a constant column; drop it, the intercept already models it")
        Z = (X - mean) / scale
        # Hessian of the loss in (w, b): (2/n) [Z 1]^T [Z 1]; its top eigenvalue bounds the step.
        A = np.column_stack([Z, np.ones(n)])
        lam_max = float(np.linalg.eigvalsh(2.0 / n * A.T @ A)[-1])
        lr = self.learning_rate if self.learning_rate is not None else 1.0 / lam_max
        w, b = np.zeros(d), 0.0
        self.loss_history_ = []
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            for epoch in range(1, self.max_epochs + 1):
                r = Z @ w + b - y
                self.loss_history_.append(float(np.mean(r**2)))
                grad_w = 2.0 / n * (Z.T @ r)
                grad_b = 2.0 / n * r.sum()
                if not np.isfinite(self.loss_history_[-1]):
                    raise FloatingPointError(
                        f"gradient descent diverged at epoch {epoch}: learning_rate={lr:g} is too "
                        f"large; it must be below 2/lambda_max = {2 / lam_max:g}"
                    )
                if max(np.abs(grad_w).max(initial=0.0), abs(grad_b)) < self.tol:
                    break
                w -= lr * grad_w
                b -= lr * grad_b
        self.n_epochs_ = epoch
        self.coef_ = w / scale
        self.intercept_ = float(b - self.coef_ @ mean)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions ``X @ coef_ + intercept_`` for features ``X`` (n, d)."""
        if self.coef_ is None:
            raise RuntimeError("call fit before predict")
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} columns, the model was fitted on {self.coef_.shape[0]}")
        return X @ self.coef_ + self.intercept_
