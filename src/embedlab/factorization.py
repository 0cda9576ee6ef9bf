r"""Matrix factorisation of an interaction matrix by gradient descent (explicit feedback).

The data are observed triples: user :math:`u_i` saw item :math:`j_i` and we measured
:math:`y_i` (a rating, or the seconds spent on a post), for :math:`i = 1, \dots, n`. Arranged
as a users-by-items matrix, most cells are empty. Matrix factorisation gives every user a
vector :math:`U_u \in \mathbb{R}^k` and a bias :math:`b_u`, every item a vector
:math:`V_j \in \mathbb{R}^k` and a bias :math:`c_j`, and predicts (Koren, Bell and
Volinsky, 2009)

.. math::

    \hat y_{uj} = \mu + b_u + c_j + U_u^\top V_j ,

where :math:`\mu` is the mean of the training targets. The rows of :math:`U` and :math:`V` are
the learned *embeddings* of users and items: their dot product is the part of the outcome that
depends on the pair, not on the user or the item alone. The objective is the mean squared
error on the observed triples plus an L2 penalty of strength :math:`\lambda`:

.. math::

    L = \frac{1}{n} \Bigl[ \sum_{i=1}^n (\hat y_{u_i j_i} - y_i)^2
        + \lambda \Bigl( \sum_u \lVert U_u \rVert^2 + b_u^2
        + \sum_j \lVert V_j \rVert^2 + c_j^2 \Bigr) \Bigr].

With residuals :math:`r_i = \hat y_{u_i j_i} - y_i` and :math:`I(u)` the observations of user
:math:`u`, the gradients are

.. math::

    \frac{\partial L}{\partial U_u} = \frac{2}{n} \Bigl( \sum_{i \in I(u)} r_i V_{j_i}
        + \lambda U_u \Bigr), \qquad
    \frac{\partial L}{\partial b_u} = \frac{2}{n} \Bigl( \sum_{i \in I(u)} r_i
        + \lambda b_u \Bigr),

and the same for items with the roles of users and items swapped.

**Step size per row.** A user with a thousand impressions has a gradient a thousand times
larger than a user with one, so one global step size is either too large for the first or
far too small for the second (the same ill-conditioning that unscaled features cause in
linear regression). Each row therefore takes its own step, divided by its number of
observations :math:`m_u = |I(u)|` plus :math:`\lambda`:

.. math::

    U_u \leftarrow U_u - \frac{\eta}{m_u + \lambda} \Bigl( \sum_{i \in I(u)} r_i V_{j_i}
        + \lambda U_u \Bigr)
    \;=\; U_u - \eta \, \frac{n}{2 (m_u + \lambda)} \, \frac{\partial L}{\partial U_u} ,

that is, gradient descent with a positive step per row (a diagonal preconditioner). All rows
move at once, from the same residuals. A row with no observation (a user or item that only
appears later) feels only the penalty, which pulls it to zero; without a penalty it keeps its
initial vector.

**Safeguard.** How large a step is safe depends on the curvature of :math:`L`, which grows
with the length of the vectors and so with the scale of the targets. If a step would increase
:math:`L` (or overflow), it is undone and :math:`\eta` is halved. :math:`L` therefore never
increases, and none of this moves the fixed points: where all gradients vanish, every user's
:math:`(U_u, b_u)` is exactly the ridge regression of the targets
:math:`y_i - \mu - c_{j_i}` on the features :math:`(V_{j_i}, 1)` with penalty :math:`\lambda`,
and likewise for items. That is how the tests check the solver against an independent one
(scikit-learn's ``Ridge``); on a fully observed matrix without penalty or biases, the product
:math:`U V^\top` is the best rank-:math:`k` approximation that the truncated SVD gives (Eckart
and Young, 1936).

**Initialisation.** :math:`U` and :math:`V` start as small random numbers. At zero they
would never move: the gradient of :math:`U` is a sum of multiples of :math:`V` and vice
versa, so only the biases would learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_float, check_int, check_same_length, check_seed

__all__ = ["MatrixFactorizationGD", "mf_objective", "mf_gradients", "interaction_matrix"]


def _check_ids(name: str, ids, size: int | None) -> np.ndarray:
    ids = check_array(name, ids, ndim=1, dtype=int)
    if ids.size and ids.min() < 0:
        raise ValueError(f"{name} must hold non-negative integer ids, got {ids.min()}")
    if size is not None and ids.size and ids.max() >= size:
        raise ValueError(f"{name} holds id {ids.max()}, but there are only {size} of them "
                         f"(ids run from 0 to {size - 1})")
    return ids


def _check_triples(users, items, y, n_users, n_items):
    users = _check_ids("users", users, n_users)
    items = _check_ids("items", items, n_items)
    y = check_array("y", y, ndim=1)
    check_same_length(users=users, items=items, y=y)
    return users, items, y


def _check_params(U, V, b, c, n_users, n_items):
    U = check_array("U", U, ndim=2)
    V = check_array("V", V, ndim=2)
    if U.shape[1] != V.shape[1]:
        raise ValueError(f"U and V must have the same number of columns (the rank), got "
                         f"{U.shape[1]} and {V.shape[1]}")
    if U.shape[0] < n_users or V.shape[0] < n_items:
        raise ValueError(f"U has {U.shape[0]} rows and V {V.shape[0]}, too few for the ids "
                         f"(users up to {n_users - 1}, items up to {n_items - 1})")
    b = check_array("b", b, ndim=1)
    c = check_array("c", c, ndim=1)
    if len(b) != U.shape[0] or len(c) != V.shape[0]:
        raise ValueError(f"b needs one bias per row of U ({U.shape[0]}) and c one per row of V "
                         f"({V.shape[0]}), got {len(b)} and {len(c)}")
    return U, V, b, c


def _predict(users, items, mu, U, V, b, c) -> np.ndarray:
    return mu + b[users] + c[items] + np.einsum("ij,ij->i", U[users], V[items])


def mf_objective(users, items, y, mu, U, V, b, c, reg: float) -> float:
    """The penalised objective :math:`L` of the module docstring for the given parameters."""
    users, items, y = _check_triples(users, items, y, None, None)
    U, V, b, c = _check_params(U, V, b, c, users.max(initial=-1) + 1, items.max(initial=-1) + 1)
    mu = check_float("mu", mu)
    reg = check_float("reg", reg, minimum=0.0)
    if len(y) == 0:
        raise ValueError("the objective needs at least one observed triple")
    r = _predict(users, items, mu, U, V, b, c) - y
    penalty = (U**2).sum() + (V**2).sum() + (b**2).sum() + (c**2).sum()
    return float((r @ r + reg * penalty) / len(y))


def mf_gradients(users, items, y, mu, U, V, b, c, reg: float):
    """Gradients ``(dU, dV, db, dc)`` of :func:`mf_objective` with respect to U, V, b and c.

    Repeated (user, item) pairs each add their own term; a user or item with no observation
    gets only the penalty's gradient.
    """
    users, items, y = _check_triples(users, items, y, None, None)
    U, V, b, c = _check_params(U, V, b, c, users.max(initial=-1) + 1, items.max(initial=-1) + 1)
    mu = check_float("mu", mu)
    reg = check_float("reg", reg, minimum=0.0)
    n = len(y)
    if n == 0:
        raise ValueError("the gradient needs at least one observed triple")
    r = _predict(users, items, mu, U, V, b, c) - y
    dU = np.zeros_like(U)
    dV = np.zeros_like(V)
    np.add.at(dU, users, r[:, None] * V[items])  # add.at: repeated ids accumulate
    np.add.at(dV, items, r[:, None] * U[users])
    db = np.bincount(users, weights=r, minlength=len(b))
    dc = np.bincount(items, weights=r, minlength=len(c))
    return (2.0 / n * (dU + reg * U), 2.0 / n * (dV + reg * V),
            2.0 / n * (db + reg * b), 2.0 / n * (dc + reg * c))


def interaction_matrix(users, items, y, n_users: int, n_items: int) -> np.ndarray:
    """The users-by-items matrix of mean outcomes, with NaN where a pair was never observed."""
    n_users = check_int("n_users", n_users, minimum=1)
    n_items = check_int("n_items", n_items, minimum=1)
    users, items, y = _check_triples(users, items, y, n_users, n_items)
    total = np.zeros((n_users, n_items))
    count = np.zeros((n_users, n_items))
    np.add.at(total, (users, items), y)
    np.add.at(count, (users, items), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


@dataclass
class MatrixFactorizationGD:
    """Biased matrix factorisation trained by full-batch gradient descent (module docstring).

    Parameters
    ----------
    rank : k, the number of dimensions of each embedding.
    reg : lambda, the strength of the L2 penalty (0 for none).
    learning_rate : eta, the initial step of every row in units of its mean gradient (module
        docstring); it is halved whenever a step would increase the objective.
    epochs : the number of full passes (gradient steps).
    init_scale : standard deviation of the random initial embeddings.
    biases : learn a bias per user and per item (else they stay 0).
    tol : stop early when no parameter moves by more than ``tol`` in one step (fitting also
        stops if the step size had to be halved below a millionth of a millionth of
        ``learning_rate``: then no step decreases the objective any more).
    seed : seed of the initial embeddings.
    progress : show a progress bar.

    After :meth:`fit`: ``user_factors_`` (n_users, k), ``item_factors_`` (n_items, k),
    ``user_bias_``, ``item_bias_``, ``global_mean_``, ``loss_history_`` (training MSE before
    each step), ``objective_history_`` (the penalised objective L before each step),
    ``val_history_`` (MSE on ``eval_set`` before each step, if given), ``n_epochs_`` and
    ``learning_rate_`` (the step size at the end, after any halving).
    """

    rank: int = 8
    reg: float = 1.0
    learning_rate: float = 0.5
    epochs: int = 200
    init_scale: float = 0.1
    biases: bool = True
    tol: float = 0.0
    seed: int | None = 0
    progress: bool = False
    user_factors_: np.ndarray | None = field(default=None, init=False, repr=False)
    item_factors_: np.ndarray | None = field(default=None, init=False, repr=False)
    user_bias_: np.ndarray | None = field(default=None, init=False, repr=False)
    item_bias_: np.ndarray | None = field(default=None, init=False, repr=False)
    global_mean_: float | None = field(default=None, init=False, repr=False)
    loss_history_: list[float] = field(default_factory=list, init=False, repr=False)
    val_history_: list[float] = field(default_factory=list, init=False, repr=False)
    objective_history_: list[float] = field(default_factory=list, init=False, repr=False)
    n_epochs_: int = field(default=0, init=False, repr=False)
    learning_rate_: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.rank = check_int("rank", self.rank, minimum=1)
        self.reg = check_float("reg", self.reg, minimum=0.0)
        self.learning_rate = check_float("learning_rate", self.learning_rate, minimum=0.0,
                                         strict_min=True)
        self.epochs = check_int("epochs", self.epochs, minimum=1)
        self.init_scale = check_float("init_scale", self.init_scale, minimum=0.0)
        self.tol = check_float("tol", self.tol, minimum=0.0)
        self.seed = check_seed("seed", self.seed)
        for name in ("biases", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def fit(self, users, items, y, *, n_users: int | None = None, n_items: int | None = None,
            eval_set=None) -> "MatrixFactorizationGD":
        """Fit on observed triples: ``users`` and ``items`` (integer ids from 0) and ``y``.

        ``n_users`` and ``n_items`` default to the largest id plus one; give them when some
        users or items have no training observation (the penalty pulls their vectors to zero;
        without a penalty they keep their initial vectors). ``eval_set=(users, items, y)``
        records the validation MSE per epoch.
        """
        if n_users is not None:
            n_users = check_int("n_users", n_users, minimum=1)
        if n_items is not None:
            n_items = check_int("n_items", n_items, minimum=1)
        users, items, y = _check_triples(users, items, y, n_users, n_items)
        if len(y) == 0:
            raise ValueError("fit needs at least one observed triple")
        n_users = n_users or int(users.max()) + 1
        n_items = n_items or int(items.max()) + 1
        if eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 3:
                raise TypeError("eval_set must be a tuple (users, items, y)")
            ev_users, ev_items, ev_y = _check_triples(*eval_set, n_users, n_items)
        n, k = len(y), self.rank
        rng = np.random.default_rng(self.seed)
        U = rng.normal(0.0, self.init_scale, size=(n_users, k))
        V = rng.normal(0.0, self.init_scale, size=(n_items, k))
        b, c = np.zeros(n_users), np.zeros(n_items)
        mu = float(y.mean())
        # Incidence matrices: row u of A_users sums the terms of the observations of user u.
        obs = np.arange(n)
        A_users = sp.csr_matrix((np.ones(n), (users, obs)), shape=(n_users, n))
        A_items = sp.csr_matrix((np.ones(n), (items, obs)), shape=(n_items, n))
        # A step per row: 1 / (observations of the row + reg), times the learning rate.
        count_u = np.bincount(users, minlength=n_users) + self.reg
        count_i = np.bincount(items, minlength=n_items) + self.reg
        scale_u = 1.0 / np.where(count_u > 0, count_u, 1.0)
        scale_i = 1.0 / np.where(count_i > 0, count_i, 1.0)
        lr, last = self.learning_rate, None
        work = np.empty((n, k + 1))
        self.loss_history_, self.val_history_, self.objective_history_ = [], [], []
        from tqdm.auto import tqdm

        epoch = 0
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is undone below
            for epoch in tqdm(range(1, self.epochs + 1), disable=not self.progress,
                              desc="gradient descent", unit="epoch"):
                Uu, Vj = U[users], V[items]
                r = mu + b[users] + c[items] + np.einsum("ij,ij->i", Uu, Vj) - y
                penalty = (U**2).sum() + (V**2).sum() + (b**2).sum() + (c**2).sum()
                objective = float((r @ r + self.reg * penalty) / n)
                if last is not None and not objective <= last[5] + 1e-12 * abs(last[5]):
                    # The step made L larger (or overflowed): undo it and halve the step size.
                    U, V, b, c, r, objective = last
                    Uu, Vj = U[users], V[items]
                    lr /= 2
                last = (U, V, b, c, r, objective)  # steps make new arrays: no copies needed
                self.objective_history_.append(objective)
                self.loss_history_.append(float(r @ r / n))
                if eval_set is not None:
                    ev = _predict(ev_users, ev_items, mu, U, V, b, c) - ev_y
                    self.val_history_.append(float(ev @ ev / max(len(ev), 1)))
                # Sums over each row's observations (the brackets of the module docstring).
                np.multiply(Vj, r[:, None], out=work[:, :k])
                work[:, k] = r
                gu = A_users @ work                    # per user: sum r V_j, then sum r
                np.multiply(Uu, r[:, None], out=work[:, :k])
                gi = A_items @ work                    # per item: sum r U_u, then sum r
                dU = lr * scale_u[:, None] * (gu[:, :k] + self.reg * U)
                dV = lr * scale_i[:, None] * (gi[:, :k] + self.reg * V)
                U, V = U - dU, V - dV
                moved = max(np.abs(dU).max(initial=0.0), np.abs(dV).max(initial=0.0))
                if self.biases:
                    db = lr * scale_u * (gu[:, k] + self.reg * b)
                    dc = lr * scale_i * (gi[:, k] + self.reg * c)
                    b, c = b - db, c - dc
                    moved = max(moved, np.abs(db).max(initial=0.0), np.abs(dc).max(initial=0.0))
                if moved < self.tol or lr < 1e-12 * self.learning_rate:
                    break  # converged, or no step can decrease L any more
        self.n_epochs_, self.learning_rate_ = epoch, lr
        self.user_factors_, self.item_factors_ = U, V
        self.user_bias_, self.item_bias_, self.global_mean_ = b, c, mu
        return self

    def _check_fitted(self):
        if self.user_factors_ is None:
            raise RuntimeError("call fit before using the model")

    def predict(self, users, items) -> np.ndarray:
        """Predicted outcomes of the (user, item) pairs given by two id arrays."""
        self._check_fitted()
        users = _check_ids("users", users, len(self.user_factors_))
        items = _check_ids("items", items, len(self.item_factors_))
        check_same_length(users=users, items=items)
        return _predict(users, items, self.global_mean_, self.user_factors_,
                        self.item_factors_, self.user_bias_, self.item_bias_)

    def interaction_scores(self) -> np.ndarray:
        """The (n_users, n_items) matrix :math:`U V^\\top`: the pair-specific part of every
        prediction, for observed and unobserved pairs alike."""
        self._check_fitted()
        return self.user_factors_ @ self.item_factors_.T

    def objective(self, users, items, y) -> float:
        """The penalised objective :math:`L` of the fitted parameters on the given triples."""
        self._check_fitted()
        return mf_objective(users, items, y, self.global_mean_, self.user_factors_,
                            self.item_factors_, self.user_bias_, self.item_bias_, self.reg)
