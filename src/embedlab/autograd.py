r"""A tiny reverse-mode automatic differentiation engine on NumPy arrays.

A computation is a chain of simple operations :math:`v_k = f_k(v_{i}, v_{j})`. The chain rule
says that the derivative of a scalar output :math:`L` with respect to an input of one operation
is the sum, over every operation that used it, of the downstream derivative times the local
derivative:

.. math::

    \bar v_i \;=\; \frac{\partial L}{\partial v_i}
    \;=\; \sum_{k:\, v_i \to v_k} \bar v_k \, \frac{\partial v_k}{\partial v_i} .

Reverse mode (backpropagation, Rumelhart, Hinton and Williams, 1986) evaluates the
:math:`\bar v` in one backward sweep over the operations in reverse topological order, starting
from :math:`\bar L = 1`. One sweep gives the gradient with respect to every input, for a cost of
a small constant times the cost of the forward pass, whatever the number of parameters
(Baydin et al., 2018). That is why it trains networks with millions of weights.

Each :class:`Tensor` stores its value, its gradient, the tensors it was computed from and a
closure that adds its gradient into theirs (the "vector-Jacobian product" of the operation).
For arrays the local rules are, with :math:`G` the incoming gradient:

.. math::

    Z = XW:\; \bar X \mathrel{+}= G W^\top,\; \bar W \mathrel{+}= X^\top G; \qquad
    Z = \tanh X:\; \bar X \mathrel{+}= G \odot (1 - Z^2); \qquad
    Z = \max(X, 0):\; \bar X \mathrel{+}= G \odot [X > 0].

Indexing :math:`Z = X[\text{idx}]` scatters back, :math:`\bar X[\text{idx}] \mathrel{+}= G`: rows
that were not read get no gradient, and a row read twice gets the sum of both (this is the
gradient of an embedding lookup). When NumPy broadcasting stretched an operand, its gradient is summed back over the stretched
axes (:func:`_unbroadcast`). :func:`cross_entropy` fuses the log-softmax and the negative
log-likelihood, whose gradient with respect to the logits is
:math:`(\operatorname{softmax}(z) - \text{onehot}(y)) / n`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from ._checks import check_array, check_float

__all__ = ["Tensor", "cross_entropy", "numerical_gradient"]


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Tensor:
    """A float64 NumPy array that records the operations applied to it.

    Parameters
    ----------
    data : array-like of numbers (converted to float64).
    requires_grad : keep a ``grad`` for this tensor when :meth:`backward` runs.

    After ``loss.backward()``, ``t.grad`` holds :math:`\\partial \\text{loss} / \\partial t`
    (an array of the same shape as ``t.data``) for every tensor that led to ``loss``.
    """

    __array_priority__ = 100  # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, *, _parents: tuple = (), _op: str = ""):
        if isinstance(data, Tensor):
            raise TypeError("data is already a Tensor; use it directly")
        self.data = check_array("data", data, finite=False)
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be True or False, got {requires_grad!r}")
        self.requires_grad = requires_grad
        self.grad: np.ndarray | None = None
        self._parents = _parents
        self._op = _op
        self._backward: Callable[[np.ndarray], None] = lambda g: None

    # ----------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __repr__(self) -> str:
        op = f", op={self._op!r}" if self._op else ""
        return f"Tensor(shape={self.shape}{op}, requires_grad={self.requires_grad})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return self.data.copy()

    @staticmethod
    def _lift(other) -> "Tensor":
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (numbers.Real, np.ndarray, list, tuple)) and not isinstance(other, bool):
            return Tensor(other)
        raise TypeError(f"cannot combine a Tensor with {type(other).__name__}")

    def _make(self, data: np.ndarray, parents: tuple["Tensor", ...], op: str) -> "Tensor":
        out = Tensor(data, requires_grad=any(p.requires_grad for p in parents), _parents=parents,
                     _op=op)
        return out

    def _accumulate(self, grad: np.ndarray) -> None:
        if not self.requires_grad:  # constants need no gradient
            return
        grad = _unbroadcast(np.asarray(grad, dtype=np.float64), self.data.shape)
        self.grad = grad.copy() if self.grad is None else self.grad + grad

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> "Tensor":
        other = self._lift(other)
        out = self._make(self.data + other.data, (self, other), "add")

        def backward(g):
            self._accumulate(g)
            other._accumulate(g)
        out._backward = backward
        return out

    __radd__ = __add__

    def __neg__(self) -> "Tensor":
        out = self._make(-self.data, (self,), "neg")
        out._backward = lambda g: self._accumulate(-g)
        return out

    def __sub__(self, other) -> "Tensor":
        return self + (-self._lift(other))

    def __rsub__(self, other) -> "Tensor":
        return self._lift(other) + (-self)

    def __mul__(self, other) -> "Tensor":
        other = self._lift(other)
        out = self._make(self.data * other.data, (self, other), "mul")

        def backward(g):
            self._accumulate(g * other.data)
            other._accumulate(g * self.data)
        out._backward = backward
        return out

    __rmul__ = __mul__

    def __pow__(self, exponent) -> "Tensor":
        exponent = check_float("exponent", exponent)
        out = self._make(self.data ** exponent, (self,), "pow")
        out._backward = lambda g: self._accumulate(g * exponent * self.data ** (exponent - 1))
        return out

    def __truediv__(self, other) -> "Tensor":
        return self * self._lift(other) ** -1.0

    def __rtruediv__(self, other) -> "Tensor":
        return self._lift(other) * self ** -1.0

    def __matmul__(self, other) -> "Tensor":
        other = self._lift(other)
        if self.ndim != 2 or other.ndim != 2:
            raise ValueError(f"@ needs two 2-D tensors, got shapes {self.shape} and {other.shape}")
        if self.shape[1] != other.shape[0]:
            raise ValueError(f"shapes {self.shape} and {other.shape} do not fit for a matrix product")
        out = self._make(self.data @ other.data, (self, other), "matmul")

        def backward(g):
            self._accumulate(g @ other.data.T)
            other._accumulate(self.data.T @ g)
        out._backward = backward
        return out

    def __rmatmul__(self, other) -> "Tensor":
        return self._lift(other) @ self

    # ------------------------------------------------------ element-wise maps
    def tanh(self) -> "Tensor":
        t = np.tanh(self.data)
        out = self._make(t, (self,), "tanh")
        out._backward = lambda g: self._accumulate(g * (1.0 - t**2))
        return out

    def relu(self) -> "Tensor":
        out = self._make(np.maximum(self.data, 0.0), (self,), "relu")
        out._backward = lambda g: self._accumulate(g * (self.data > 0))
        return out

    def sigmoid(self) -> "Tensor":
        s = 0.5 * (1.0 + np.tanh(0.5 * self.data))  # stable for large |x|
        out = self._make(s, (self,), "sigmoid")
        out._backward = lambda g: self._accumulate(g * s * (1.0 - s))
        return out

    def exp(self) -> "Tensor":
        e = np.exp(self.data)
        out = self._make(e, (self,), "exp")
        out._backward = lambda g: self._accumulate(g * e)
        return out

    def log(self) -> "Tensor":
        if np.any(self.data <= 0):
            raise ValueError("log needs positive values")
        out = self._make(np.log(self.data), (self,), "log")
        out._backward = lambda g: self._accumulate(g / self.data)
        return out

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, key) -> "Tensor":
        """Slices and integer indexing, such as a gate ``z[:, :H]`` or embedding rows ``E[ids]``.

        The backward rule puts the incoming gradient back where the values came from, in an
        array of zeros: entries that were not read get no gradient, and an entry read several
        times (a token id that occurs twice in a batch) gets the sum of its gradients.
        """
        parts = key if isinstance(key, tuple) else (key,)
        basic = True
        for part in parts:
            if isinstance(part, Tensor):
                raise TypeError("index a Tensor with integers, slices or integer arrays, not "
                                "with another Tensor (use its .data)")
            if part is None or part is Ellipsis or isinstance(part, slice) or (
                    isinstance(part, numbers.Integral) and not isinstance(part, bool)):
                continue
            arr = np.asarray(part)
            if arr.dtype.kind not in "iu":
                raise TypeError(f"index with integers, slices or integer arrays, got "
                                f"{type(part).__name__} of dtype {arr.dtype}")
            basic = False
        try:
            value = np.array(self.data[key], dtype=np.float64)
        except IndexError as exc:
            raise ValueError(f"index out of range for a tensor of shape {self.shape}: {exc}") from None
        out = self._make(value, (self,), "index")

        def backward(g):
            full = np.zeros_like(self.data)
            if basic:  # each position read at most once
                full[key] = g
            else:      # repeated indices add up
                np.add.at(full, key, g)
            self._accumulate(full)
        out._backward = backward
        return out

    # -------------------------------------------------------------- reductions
    def sum(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        if axis is not None:
            axis = int(axis)
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(f"axis {axis} is out of range for a {self.ndim}-D tensor")
        out = self._make(np.sum(self.data, axis=axis, keepdims=keepdims), (self,), "sum")

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self._accumulate(np.broadcast_to(g, self.shape))
        out._backward = backward
        return out

    def mean(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        n = self.data.size if axis is None else self.shape[axis]
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / n)

    @property
    def T(self) -> "Tensor":
        out = self._make(self.data.T, (self,), "transpose")
        out._backward = lambda g: self._accumulate(g.T)
        return out

    # ---------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of every tensor it depends on.

        ``grad`` is the gradient of the final scalar with respect to this tensor; it may be
        left out when this tensor is itself a scalar (then it is 1).
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without grad needs a scalar, this tensor has shape "
                                 f"{self.shape}; pass grad of the same shape")
            grad = np.ones_like(self.data)
        else:
            grad = check_array("grad", grad)
            if grad.shape != self.shape:
                raise ValueError(f"grad has shape {grad.shape}, expected {self.shape}")
        order: list[Tensor] = []
        seen: set[int] = set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in seen)
        for node in order:  # clear intermediate gradients from an earlier backward
            if node._parents:
                node.grad = None
        if self._parents or self.grad is None:
            self.grad = grad.copy()
        else:  # a leaf accumulates, as in torch
            self.grad = self.grad + grad
        for node in reversed(order):
            if node.grad is not None and node._parents:
                node._backward(node.grad)

    def zero_grad(self) -> None:
        """Forget the gradient (call it on parameters before the next backward)."""
        self.grad = None


def cross_entropy(logits: Tensor, targets) -> Tensor:
    """Mean negative log-likelihood of integer ``targets`` under ``softmax(logits)``.

    ``logits`` is an ``(n, k)`` Tensor of scores, ``targets`` ``n`` class indices in
    ``[0, k)``. The same quantity as ``torch.nn.functional.cross_entropy``.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a Tensor, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (n, k), got shape {logits.shape}")
    targets = check_array("targets", targets, ndim=1, dtype=int)
    n, k = logits.shape
    if len(targets) != n:
        raise ValueError(f"targets has {len(targets)} entries for {n} rows of logits")
    if n == 0:
        raise ValueError("logits has no rows")
    if targets.min() < 0 or targets.max() >= k:
        raise ValueError(f"targets must lie in [0, {k}), got values from {targets.min()} to "
                         f"{targets.max()}")
    z = logits.data - logits.data.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), targets].mean()
    out = logits._make(np.array(loss), (logits,), "cross_entropy")

    def backward(g):
        d = np.exp(log_p)
        d[np.arange(n), targets] -= 1.0
        logits._accumulate(g * d / n)
    out._backward = backward
    return out


def numerical_gradient(f: Callable[..., float], arrays: Sequence, eps: float = 1e-6) -> list[np.ndarray]:
    r"""Central finite differences of a scalar function of several arrays.

    Returns one array per input with entries
    :math:`(f(x + \epsilon e_j) - f(x - \epsilon e_j)) / (2\epsilon)`; the error of this
    estimate is :math:`O(\epsilon^2)` plus rounding of order :math:`10^{-16} / \epsilon`.
    ``f`` is called as ``f(*arrays)`` with float64 arrays and must return a number.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if isinstance(arrays, (str, bytes, np.ndarray)) or not isinstance(arrays, Sequence):
        raise TypeError("arrays must be a list or tuple of arrays")
    eps = check_float("eps", eps, minimum=0.0, strict_min=True)
    xs = [check_array(f"arrays[{i}]", a).copy() for i, a in enumerate(arrays)]
    grads = []
    for x in xs:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            up = float(f(*xs))
            flat[j] = old - eps
            down = float(f(*xs))
            flat[j] = old
            gflat[j] = (up - down) / (2 * eps)
        grads.append(g)
    return grads
