r"""Attention and the transformer encoder and decoder blocks, from scratch in NumPy (float64).

**Scaled dot-product attention** (Vaswani et al., 2017). Queries :math:`Q \in \mathbb{R}^{n
\times d_k}` are compared with keys :math:`K \in \mathbb{R}^{m \times d_k}`; each query receives
a weighted average of the values :math:`V \in \mathbb{R}^{m \times d_v}`:

.. math::

    \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d_k}}
    + M\Big) V ,

with the softmax taken over each row. Dividing by :math:`\sqrt{d_k}` keeps the scores of unit
variance when the entries of :math:`q` and :math:`k` are independent with unit variance, so the
softmax does not saturate as :math:`d_k` grows. The mask :math:`M` holds :math:`0` where a query
may look at a key and :math:`-\infty` where it may not. Here a boolean mask says ``True`` for
*allowed* pairs (the convention of ``torch.nn.functional.scaled_dot_product_attention``):

* a **padding mask** forbids the padded key positions of shorter sequences in a batch;
* a **causal mask** forbids position :math:`i` to see keys :math:`j > i`, so a model that
  predicts the next token cannot read it.

A row whose keys are all forbidden gets zero weights and a zero output (as torch does).

**Multi-head attention** projects the inputs :math:`h` times with learned matrices, attends in
each :math:`d_k = d/h`-dimensional head separately, concatenates and projects back:

.. math::

    \operatorname{head}_i = \operatorname{Attention}(X_q W^Q_i, X_k W^K_i, X_v W^V_i), \quad
    \operatorname{MHA} = [\operatorname{head}_1, \dots, \operatorname{head}_h] W^O .

Weights follow torch's ``nn.Linear`` layout, :math:`y = x W^\top + b` with ``W`` of shape
``(out, in)``, so that the weights of ``torch.nn.MultiheadAttention`` can be copied in.

**Sinusoidal positional encodings** (Vaswani et al., 2017) add position information, which
attention alone ignores (it is equivariant to permutations of its inputs):

.. math::

    PE_{p, 2i} = \sin\!\big(p / 10000^{2i/d}\big), \qquad
    PE_{p, 2i+1} = \cos\!\big(p / 10000^{2i/d}\big).

**Layer normalisation** (Ba, Kiros and Hinton, 2016) rescales each vector to zero mean and unit
variance, then applies a learned gain :math:`\gamma` and bias :math:`\beta`.

**The encoder block** is a residual self-attention sublayer followed by a residual
position-wise feed-forward sublayer :math:`\operatorname{FFN}(x) = \phi(x W_1^\top + b_1)
W_2^\top + b_2`. In the original "post-norm" order, :math:`x \leftarrow \operatorname{LN}(x +
\operatorname{MHA}(x))`, then :math:`x \leftarrow \operatorname{LN}(x + \operatorname{FFN}(x))`;
the "pre-norm" order, :math:`x \leftarrow x + \operatorname{MHA}(\operatorname{LN}(x))`, trains
more stably in deep stacks (Xiong et al., 2020). Both match ``torch.nn.TransformerEncoderLayer``
(``norm_first=False`` / ``True``) with dropout switched off.

**Cross-attention and the decoder block** (Vaswani et al., 2017). In an encoder-decoder model
the decoder reads its own sequence :math:`X` (the target so far) and the encoder's output
:math:`M` (the "memory"). Its block has three residual sublayers: causal self-attention over
:math:`X`; **cross-attention**, whose queries come from the decoder and whose keys and values
come from the memory,

.. math::

    \operatorname{CrossAttention}(X, M) = \operatorname{MHA}(X_q = X,\; X_k = X_v = M),

with a padding mask on the memory but no causal mask (the whole source is known); and the
feed-forward network. Post-norm: :math:`x \leftarrow \operatorname{LN}(x +
\operatorname{MHA}_\text{causal}(x))`, :math:`x \leftarrow \operatorname{LN}(x +
\operatorname{MHA}(x, M))`, :math:`x \leftarrow \operatorname{LN}(x + \operatorname{FFN}(x))`;
pre-norm puts each LN inside the residual branch. Both match
``torch.nn.TransformerDecoderLayer`` with dropout switched off.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_array, check_choice, check_float, check_int, check_seed

__all__ = [
    "softmax", "causal_mask", "padding_mask", "scaled_dot_product_attention",
    "MultiHeadAttention", "sinusoidal_positional_encoding", "layer_norm", "gelu",
    "TransformerEncoderBlock", "TransformerDecoderBlock",
]


def _softmax_last_inplace(s: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, overwriting ``s`` (float64, no NaN, no +inf)."""
    top = s.max(axis=-1, keepdims=True)
    empty = None
    if not np.all(np.isfinite(top)):  # some rows are entirely -inf (fully masked)
        empty = np.isneginf(top)
        top[empty] = 0.0
    s -= top
    np.exp(s, out=s)  # exp(-inf) = 0: masked entries get zero weight
    total = s.sum(axis=-1, keepdims=True)
    if empty is not None:
        total[empty] = 1.0  # those rows are all zeros; keep them so
    s *= 1.0 / total
    return s


def softmax(x, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``; rows that are all ``-inf`` give zeros."""
    x = check_array("x", x, finite=False)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension")
    axis = check_int("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    if np.any(np.isnan(x)) or np.any(x == np.inf):
        raise ValueError("x contains NaN or +inf; only -inf (a masked entry) is allowed")
    out = np.moveaxis(x.copy(), axis, -1)
    return np.moveaxis(_softmax_last_inplace(np.ascontiguousarray(out)), -1, axis)


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """Boolean ``(n_queries, n_keys)`` mask, ``True`` where key ``j <= i`` (query ``i``).

    With ``n_keys != n_queries`` the triangle starts at the top-left corner, as for
    ``is_causal=True`` in torch.
    """
    n_queries = check_int("n_queries", n_queries, minimum=1)
    n_keys = n_queries if n_keys is None else check_int("n_keys", n_keys, minimum=1)
    return np.tril(np.ones((n_queries, n_keys), dtype=bool))


def padding_mask(lengths, max_len: int | None = None) -> np.ndarray:
    """Boolean ``(batch, max_len)`` mask, ``True`` at the real (non-padded) positions.

    ``lengths`` holds the true length of each sequence of the batch. For attention over
    keys, index it as ``mask[:, None, :]`` (or ``[:, None, None, :]`` with heads).
    """
    lengths = check_array("lengths", lengths, ndim=1, dtype=int, min_rows=1)
    if lengths.min() < 0:
        raise ValueError(f"lengths must be >= 0, got {lengths.min()}")
    longest = int(lengths.max())
    max_len = longest if max_len is None else check_int("max_len", max_len, minimum=1)
    if longest > max_len:
        raise ValueError(f"max_len={max_len} is shorter than the longest sequence ({longest})")
    return np.arange(max_len)[None, :] < lengths[:, None]


def scaled_dot_product_attention(query, key, value, mask=None, *, causal: bool = False,
                                 scale: float | None = None, return_weights: bool = False):
    """Attention of ``query`` on ``key``/``value`` (see the module docstring).

    Parameters
    ----------
    query : ``(..., n, d_k)``; any leading (batch, head) dimensions.
    key : ``(..., m, d_k)``, value : ``(..., m, d_v)``; leading dimensions broadcast.
    mask : ``None``, a boolean array broadcastable to ``(..., n, m)`` with ``True`` where
        attention is allowed, or a float array added to the scores (``-inf`` forbids).
    causal : also apply :func:`causal_mask` (query ``i`` sees keys ``0..i``).
    scale : multiplier of the scores; ``None`` means ``1 / sqrt(d_k)``.
    return_weights : also return the ``(..., n, m)`` attention weights.

    Returns the ``(..., n, d_v)`` output, and the weights if asked.
    """
    q = check_array("query", query, min_rows=0)
    k = check_array("key", key)
    v = check_array("value", value)
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (positions, features), "
                             f"got shape {a.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"query and key must have the same last dimension d_k, got "
                         f"{q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"key and value must have the same number of positions, got "
                         f"{k.shape[-2]} and {v.shape[-2]}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    if not isinstance(return_weights, bool):
        raise TypeError(f"return_weights must be True or False, got {return_weights!r}")
    d_k = q.shape[-1]
    scale = 1.0 / np.sqrt(d_k) if scale is None else check_float("scale", scale)
    # Scaling the (n, d_k) queries is cheaper than scaling the (n, m) scores.
    scores = np.matmul(q * scale, np.swapaxes(k, -1, -2))
    n, m = q.shape[-2], k.shape[-2]
    if mask is not None:
        mask_arr = np.asarray(mask)
        try:
            full = np.broadcast_shapes(mask_arr.shape, scores.shape)
        except ValueError:
            raise ValueError(f"mask of shape {mask_arr.shape} does not broadcast to the scores "
                             f"of shape {scores.shape}") from None
        if mask_arr.dtype == bool:  # True = allowed; as an additive mask of 0 and -inf
            additive = np.where(mask_arr, 0.0, -np.inf)
        else:
            additive = check_array("mask", mask_arr, finite=False)
            if np.any(np.isnan(additive)) or np.any(additive == np.inf):
                raise ValueError("a float mask may hold finite numbers and -inf only")
        if full != scores.shape:  # the mask adds leading dimensions
            scores = np.broadcast_to(scores, full).copy()
        scores += additive
    if causal and n > 0 and m > 0:
        scores += np.where(causal_mask(n, m), 0.0, -np.inf)
    weights = _softmax_last_inplace(scores) if scores.size else scores
    out = np.matmul(weights, v)
    return (out, weights) if return_weights else out


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x W^T + b`` over the last axis of ``x``, with ``W`` in torch's ``(out, in)`` layout.

    The leading (batch, position) axes are merged first: NumPy multiplies a 3-D array by a
    matrix as a stack of small products, and one large 2-D product is much faster.
    """
    y = x.reshape(-1, x.shape[-1]) @ w.T
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], w.shape[0])


class MultiHeadAttention:
    """Multi-head attention with torch's weight layout (batch-first inputs).

    Parameters
    ----------
    d_model : width of the input and output vectors.
    num_heads : number of heads; must divide ``d_model``.
    bias : use biases in the four projections.
    seed : seed of the random initial weights (uniform, Glorot-style bound).

    Attributes ``w_q, w_k, w_v, w_o`` are ``(d_model, d_model)`` and ``b_q, b_k, b_v, b_o`` are
    ``(d_model,)``. :meth:`set_weights` loads torch's ``in_proj_weight`` / ``out_proj.weight``.
    """

    def __init__(self, d_model: int, num_heads: int, *, bias: bool = True, seed: int | None = 0):
        self.d_model = check_int("d_model", d_model, minimum=1)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        rng = np.random.default_rng(check_seed("seed", seed))
        bound = np.sqrt(6.0 / (2 * self.d_model))
        shape = (self.d_model, self.d_model)
        self.w_q, self.w_k, self.w_v, self.w_o = (rng.uniform(-bound, bound, shape) for _ in range(4))
        zeros = np.zeros(self.d_model)
        self.b_q, self.b_k, self.b_v, self.b_o = ((zeros.copy() if bias else None) for _ in range(4))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    def set_weights(self, in_proj_weight, out_proj_weight, in_proj_bias=None, out_proj_bias=None):
        """Load weights in torch's layout: ``in_proj_weight`` is ``(3 d, d)``, Q then K then V."""
        d = self.d_model
        w_in = check_array("in_proj_weight", in_proj_weight, ndim=2)
        w_out = check_array("out_proj_weight", out_proj_weight, ndim=2)
        if w_in.shape != (3 * d, d):
            raise ValueError(f"in_proj_weight must have shape {(3 * d, d)}, got {w_in.shape}")
        if w_out.shape != (d, d):
            raise ValueError(f"out_proj_weight must have shape {(d, d)}, got {w_out.shape}")
        self.w_q, self.w_k, self.w_v = (w.copy() for w in np.split(w_in, 3))
        self.w_o = w_out.copy()
        if in_proj_bias is not None:
            b_in = check_array("in_proj_bias", in_proj_bias, ndim=1)
            if b_in.shape != (3 * d,):
                raise ValueError(f"in_proj_bias must have shape {(3 * d,)}, got {b_in.shape}")
            self.b_q, self.b_k, self.b_v = (b.copy() for b in np.split(b_in, 3))
        else:
            self.b_q = self.b_k = self.b_v = None
        if out_proj_bias is not None:
            b_out = check_array("out_proj_bias", out_proj_bias, ndim=1)
            if b_out.shape != (d,):
                raise ValueError(f"out_proj_bias must have shape {(d,)}, got {b_out.shape}")
            self.b_o = b_out.copy()
        else:
            self.b_o = None
        return self

    def _split_heads(self, x: np.ndarray) -> np.ndarray:
        b, n, _ = x.shape
        return x.reshape(b, n, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def __call__(self, query, key=None, value=None, *, key_mask=None, attn_mask=None,
                 causal: bool = False, return_weights: bool = False):
        """Attend from ``query`` ``(batch, n, d)`` to ``key``/``value`` ``(batch, m, d)``.

        ``key`` and ``value`` default to ``query`` (self-attention). ``key_mask`` is a boolean
        ``(batch, m)`` array, ``True`` for real keys (see :func:`padding_mask`; torch's
        ``key_padding_mask`` is its negation). ``attn_mask`` is an ``(n, m)`` boolean (``True``
        allowed) or additive float mask shared by the batch. With ``return_weights`` the
        per-head weights ``(batch, heads, n, m)`` are returned too.
        """
        q_in = check_array("query", query, ndim=3)
        k_in = q_in if key is None else check_array("key", key, ndim=3)
        v_in = k_in if value is None else check_array("value", value, ndim=3)
        for name, a in (("query", q_in), ("key", k_in), ("value", v_in)):
            if a.shape[-1] != self.d_model:
                raise ValueError(f"{name} has width {a.shape[-1]}, the layer expects "
                                 f"d_model={self.d_model}")
        if k_in.shape[:2] != v_in.shape[:2] or k_in.shape[0] != q_in.shape[0]:
            raise ValueError(f"batch and key positions must agree: query {q_in.shape}, key "
                             f"{k_in.shape}, value {v_in.shape}")
        batch, m = k_in.shape[0], k_in.shape[1]
        mask = None
        if key_mask is not None:
            key_mask = np.asarray(key_mask)
            if key_mask.dtype != bool or key_mask.shape != (batch, m):
                raise ValueError(f"key_mask must be a boolean array of shape {(batch, m)}, got "
                                 f"{key_mask.dtype} {key_mask.shape}")
            mask = key_mask[:, None, None, :]
        q = self._split_heads(_linear(q_in, self.w_q, self.b_q))
        k = self._split_heads(_linear(k_in, self.w_k, self.b_k))
        v = self._split_heads(_linear(v_in, self.w_v, self.b_v))
        if attn_mask is not None:
            attn = np.asarray(attn_mask)
            if attn.shape != (q_in.shape[1], m):
                raise ValueError(f"attn_mask must have shape {(q_in.shape[1], m)}, got {attn.shape}")
            if attn.dtype == bool:
                mask = attn if mask is None else (mask & attn)
            else:  # additive float mask; forbid the padded keys with -inf
                attn = check_array("attn_mask", attn, finite=False)
                mask = attn if mask is None else np.where(mask, attn, -np.inf)
        out, weights = scaled_dot_product_attention(q, k, v, mask, causal=causal,
                                                    return_weights=True)
        b, h, n, dk = out.shape
        out = _linear(out.transpose(0, 2, 1, 3).reshape(b, n, h * dk), self.w_o, self.b_o)
        return (out, weights) if return_weights else out


def sinusoidal_positional_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The ``(n_positions, d_model)`` sinusoidal encodings of Vaswani et al. (2017)."""
    n_positions = check_int("n_positions", n_positions, minimum=1)
    d_model = check_int("d_model", d_model, minimum=1)
    base = check_float("base", base, minimum=1.0, strict_min=True)
    pos = np.arange(n_positions)[:, None]
    i = np.arange(d_model)
    freq = base ** (-(i - i % 2) / d_model)  # dimensions 2i and 2i+1 share a frequency
    angles = pos * freq[None, :]
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles))


def layer_norm(x, gamma=None, beta=None, eps: float = 1e-5) -> np.ndarray:
    """Normalise the last axis to zero mean and unit (biased) variance, then scale and shift."""
    x = check_array("x", x)
    if x.ndim < 1:
        raise ValueError("x must have at least one dimension")
    eps = check_float("eps", eps, minimum=0.0, strict_min=True)
    d = x.shape[-1]
    gamma = np.ones(d) if gamma is None else check_array("gamma", gamma, ndim=1)
    beta = np.zeros(d) if beta is None else check_array("beta", beta, ndim=1)
    if gamma.shape != (d,) or beta.shape != (d,):
        raise ValueError(f"gamma and beta must have shape ({d},), got {gamma.shape} and {beta.shape}")
    return _layer_norm(x, gamma, beta, eps)


def _layer_norm(x: np.ndarray, gamma, beta, eps: float) -> np.ndarray:
    """Layer normalisation without argument checks, keeping the dtype of ``x`` (hot paths)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    centred /= np.sqrt(var + eps)  # in place: no temporary arrays in the hot path
    centred *= gamma
    centred += beta
    return centred


def gelu(x) -> np.ndarray:
    """The exact GELU, :math:`x \\Phi(x)` (Hendrycks and Gimpel, 2016)."""
    return _gelu(check_array("x", x))


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU without argument checks, keeping the dtype of ``x`` (hot paths).

    In float32, :math:`\\Phi` comes from :func:`_normal_cdf_float32`, as accurate as float32
    allows and several times faster than SciPy's ``erf``; other dtypes use SciPy's ``erf``.
    """
    if x.dtype == np.float32:
        # In blocks that fit the processor's cache: the twenty passes of the formula then
        # read fast memory instead of main memory.
        out = np.empty(x.shape, dtype=np.float32)  # C order, so that reshape is a view
        flat, flat_out = x.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, 1 << 16):
            part = flat[start:start + (1 << 16)]
            np.multiply(part, _normal_cdf_float32(part), out=flat_out[start:start + (1 << 16)])
        return out
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x * x.dtype.type(1.0 / math.sqrt(2.0))))


# Abramowitz and Stegun (1964), formula 7.1.26: for z >= 0,
# erf(z) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-z^2) + e(z), t = 1 / (1 + p z),
# with |e(z)| <= 1.5e-7 (about one unit in the last place of float32 near 1).
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _normal_cdf_float32(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF of a float32 array, from formula 7.1.26 of Abramowitz and Stegun.

    With :math:`z = |x| / \\sqrt 2`, :math:`\\Phi(-|x|) = \\operatorname{erfc}(z) / 2 \\approx
    \\tfrac12 (a_1 t + \\dots + a_5 t^5) e^{-x^2/2}`; then :math:`\\Phi(x) = 1 - \\Phi(-|x|)`
    for :math:`x \\ge 0` and :math:`\\Phi(-|x|)` for :math:`x < 0`. Every step is a
    vectorised float32 operation, without branches.
    """
    f = np.float32
    a = np.abs(x)
    t = a * f(_AS_P / math.sqrt(2.0))
    t += f(1.0)
    np.reciprocal(t, out=t)
    tail = t * f(_AS_A[4] / 2)
    for coef in _AS_A[3::-1]:  # Horner's rule: ((a5 t + a4) t + a3) t + ... then times t
        tail += f(coef / 2)
        tail *= t
    with np.errstate(over="ignore"):  # |x| > 1e19: x^2 = inf, exp(-inf) = 0, as it should
        np.square(a, out=a)
    a *= f(-0.5)
    np.exp(a, out=a)
    tail *= a  # Phi(-|x|)
    np.subtract(f(0.5), tail, out=tail)  # Phi(x) = 1/2 + sign(x) (1/2 - Phi(-|x|))
    np.copysign(tail, x, out=tail)
    tail += f(0.5)
    return tail


def _init_feed_forward(block, d: int, d_ff, activation, norm_first, eps, seed) -> None:
    """Check the options shared by the encoder and decoder blocks and draw the random weights
    of their feed-forward sublayer (``w1 (d_ff, d)``, ``w2 (d, d_ff)``, zero biases)."""
    block.d_ff = check_int("d_ff", d_ff, minimum=1)
    block.activation = check_choice("activation", activation, ("relu", "gelu"))
    if not isinstance(norm_first, bool):
        raise TypeError(f"norm_first must be True or False, got {norm_first!r}")
    block.norm_first = norm_first
    block.eps = check_float("eps", eps, minimum=0.0, strict_min=True)
    rng = np.random.default_rng(seed)
    block.w1 = rng.uniform(-1, 1, (block.d_ff, d)) / np.sqrt(d)
    block.b1 = np.zeros(block.d_ff)
    block.w2 = rng.uniform(-1, 1, (d, block.d_ff)) / np.sqrt(block.d_ff)
    block.b2 = np.zeros(d)


class TransformerEncoderBlock:
    """One transformer encoder layer (self-attention + feed-forward), no dropout.

    Parameters
    ----------
    d_model, num_heads : as in :class:`MultiHeadAttention`.
    d_ff : width of the hidden layer of the feed-forward sublayer.
    activation : ``"relu"`` or ``"gelu"``.
    norm_first : pre-norm order if ``True``, post-norm (the 2017 original) if ``False``.
    eps : epsilon of the two layer norms.
    seed : seed of the random initial weights.
    dtype : ``"float64"`` (exact comparisons) or ``"float32"`` (half the memory, faster, the
        precision pretrained models such as BERT run in). The block computes in this dtype
        whatever the dtype of its input and weights.

    Attributes: ``attn`` (a :class:`MultiHeadAttention`), ``w1 (d_ff, d)``, ``b1``,
    ``w2 (d, d_ff)``, ``b2``, ``ln1_gamma``, ``ln1_beta``, ``ln2_gamma``, ``ln2_beta``.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, *, activation: str = "relu",
                 norm_first: bool = False, eps: float = 1e-5, seed: int | None = 0,
                 dtype: str = "float64"):
        self.dtype = np.dtype(check_choice("dtype", dtype, ("float32", "float64")))
        self.attn = MultiHeadAttention(d_model, num_heads, seed=seed)
        d = self.attn.d_model
        _init_feed_forward(self, d, d_ff, activation, norm_first, eps,
                           None if seed is None else seed + 1)
        self.ln1_gamma, self.ln1_beta = np.ones(d), np.zeros(d)
        self.ln2_gamma, self.ln2_beta = np.ones(d), np.zeros(d)

    def _cast(self, a):
        """A weight in the block's dtype (no copy when it already is)."""
        return None if a is None else np.asarray(a, dtype=self.dtype)

    def feed_forward(self, x: np.ndarray) -> np.ndarray:
        """The position-wise two-layer network, applied to every position independently."""
        h = _linear(x, self._cast(self.w1), self._cast(self.b1))
        h = np.maximum(h, 0.0, out=h) if self.activation == "relu" else _gelu(h)
        return _linear(h, self._cast(self.w2), self._cast(self.b2))

    def mask_bias(self, n: int, key_mask=None, causal: bool = False) -> np.ndarray:
        """The attention mask as an array to add to the scores: 0 where a query may read a
        key, -inf where it may not. Shape ``(batch or 1, 1, n or 1, n)``.

        ``key_mask`` (``(batch, n)`` booleans, ``True`` for real tokens) forbids the padding
        keys; ``causal`` forbids the keys to the right of each query.
        """
        n = check_int("n", n, minimum=0)
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        allowed = np.ones((1, 1, 1, n), dtype=bool)  # (batch, head, query, key)
        if key_mask is not None:
            key_mask = np.asarray(key_mask)
            if key_mask.dtype != bool or key_mask.ndim != 2 or key_mask.shape[1] != n:
                raise ValueError(f"key_mask must be a boolean array of shape (batch, {n}), got "
                                 f"{key_mask.dtype} {key_mask.shape}")
            allowed = key_mask[:, None, None, :]
        if causal:
            allowed = allowed & np.tri(n, dtype=bool)  # query t reads keys 0..t only
        return np.where(allowed, self.dtype.type(0.0), self.dtype.type(-np.inf))

    def self_attention(self, x, *, key_mask=None, causal: bool = False,
                       return_weights: bool = False):
        """Multi-head self-attention of ``x`` ``(batch, n, d_model)`` with the weights of ``attn``.

        The same numbers as ``self.attn(x, key_mask=key_mask, causal=causal)``, computed in
        the block's dtype. With ``return_weights`` the attention weights
        ``(batch, heads, n, n)`` are returned too.
        """
        x = check_array("x", x, ndim=3).astype(self.dtype, copy=False)
        bias = self.mask_bias(x.shape[1], key_mask, causal)
        if bias.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"key_mask has {bias.shape[0]} rows, x has {x.shape[0]}")
        return self._attend(x, bias, return_weights)

    def _attend(self, x: np.ndarray, bias: np.ndarray, return_weights: bool = False):
        """Multi-head self-attention without checks; ``bias`` comes from :meth:`mask_bias`."""
        a, (b, n, _) = self.attn, x.shape
        q, k, v = (a._split_heads(_linear(x, self._cast(w), self._cast(w_bias)))
                   for w, w_bias in ((a.w_q, a.b_q), (a.w_k, a.b_k), (a.w_v, a.b_v)))
        scores = q @ k.transpose(0, 1, 3, 2)  # (batch, heads, n, n)
        scores *= self.dtype.type(1.0 / math.sqrt(a.head_dim))
        scores += bias  # -inf on the keys a query may not read
        weights = _softmax_last_inplace(scores) if scores.size else scores
        heads = (weights @ v).transpose(0, 2, 1, 3).reshape(b, n, a.d_model)
        out = _linear(heads, self._cast(a.w_o), self._cast(a.b_o))
        return (out, weights) if return_weights else out

    def __call__(self, x, *, key_mask=None, causal: bool = False) -> np.ndarray:
        """Apply the block to ``x`` ``(batch, n, d_model)``; ``key_mask`` as in
        :meth:`MultiHeadAttention.__call__`. The result has the block's ``dtype``."""
        x = check_array("x", x, ndim=3).astype(self.dtype, copy=False)
        bias = self.mask_bias(x.shape[1], key_mask, causal)
        if bias.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"key_mask has {bias.shape[0]} rows, x has {x.shape[0]}")
        g1, b1, g2, b2 = map(self._cast, (self.ln1_gamma, self.ln1_beta, self.ln2_gamma, self.ln2_beta))
        ln1 = lambda t: _layer_norm(t, g1, b1, self.eps)  # noqa: E731
        ln2 = lambda t: _layer_norm(t, g2, b2, self.eps)  # noqa: E731
        attend = lambda t: self._attend(t, bias)  # noqa: E731
        if self.norm_first:
            x = x + attend(ln1(x))
            return x + self.feed_forward(ln2(x))
        x = ln1(x + attend(x))
        return ln2(x + self.feed_forward(x))


class TransformerDecoderBlock:
    """One transformer decoder layer: causal self-attention, cross-attention, feed-forward.

    The decoder layer of an encoder-decoder transformer, without dropout. Its second sublayer
    is **cross-attention**: queries from the decoder's sequence ``x``, keys and values from
    ``memory``, the encoder's output. It equals ``torch.nn.TransformerDecoderLayer`` (same
    ``norm_first`` and activation, dropout off) once :meth:`load_torch_state` has copied that
    layer's weights.

    Parameters
    ----------
    d_model, num_heads, d_ff, activation, norm_first, eps : as in
        :class:`TransformerEncoderBlock`.
    seed : seed of the random initial weights.

    Attributes: ``self_attn`` and ``cross_attn`` (:class:`MultiHeadAttention`), ``w1 (d_ff, d)``,
    ``b1``, ``w2 (d, d_ff)``, ``b2``, and the gains and biases of the three layer norms
    ``ln1_gamma``, ``ln1_beta``, ..., ``ln3_beta``.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, *, activation: str = "relu",
                 norm_first: bool = False, eps: float = 1e-5, seed: int | None = 0):
        seed = check_seed("seed", seed)
        self.self_attn = MultiHeadAttention(d_model, num_heads, seed=seed)
        self.cross_attn = MultiHeadAttention(d_model, num_heads,
                                             seed=None if seed is None else seed + 1)
        d = self.self_attn.d_model
        _init_feed_forward(self, d, d_ff, activation, norm_first, eps,
                           None if seed is None else seed + 2)
        for k in (1, 2, 3):
            setattr(self, f"ln{k}_gamma", np.ones(d))
            setattr(self, f"ln{k}_beta", np.zeros(d))

    @property
    def d_model(self) -> int:
        return self.self_attn.d_model

    def feed_forward(self, x: np.ndarray) -> np.ndarray:
        """The position-wise two-layer network, applied to every position independently."""
        h = _linear(x, self.w1, self.b1)
        h = np.maximum(h, 0.0) if self.activation == "relu" else _gelu(h)
        return _linear(h, self.w2, self.b2)

    def _norm(self, k: int, x: np.ndarray) -> np.ndarray:
        return _layer_norm(x, getattr(self, f"ln{k}_gamma"), getattr(self, f"ln{k}_beta"), self.eps)

    def __call__(self, x, memory, *, key_mask=None, memory_key_mask=None, causal: bool = True,
                 return_weights: bool = False):
        """Apply the block to the target ``x`` ``(batch, n, d)`` given ``memory`` ``(batch, m, d)``.

        ``key_mask`` ``(batch, n)`` and ``memory_key_mask`` ``(batch, m)`` are booleans, ``True``
        for real tokens (see :func:`padding_mask`; torch's ``tgt_key_padding_mask`` and
        ``memory_key_padding_mask`` are their negations). ``causal`` (default ``True``) lets
        target position ``i`` read target positions ``0..i`` only; cross-attention has no
        causal mask. With ``return_weights``, returns ``(out, self_weights, cross_weights)``
        with the per-head weights ``(batch, heads, n, n)`` and ``(batch, heads, n, m)``.
        """
        x = check_array("x", x, ndim=3)
        memory = check_array("memory", memory, ndim=3)
        if memory.shape[0] != x.shape[0] or memory.shape[2] != x.shape[2]:
            raise ValueError(f"memory must have the batch size and width of x, got x {x.shape} "
                             f"and memory {memory.shape}")
        for name, flag in (("causal", causal), ("return_weights", return_weights)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")

        def self_attention(t):
            return self.self_attn(t, key_mask=key_mask, causal=causal, return_weights=True)

        def cross_attention(t):  # queries from the decoder, keys and values from the memory
            return self.cross_attn(t, memory, memory, key_mask=memory_key_mask,
                                   return_weights=True)

        if self.norm_first:
            a, w_self = self_attention(self._norm(1, x))
            x = x + a
            c, w_cross = cross_attention(self._norm(2, x))
            x = x + c
            x = x + self.feed_forward(self._norm(3, x))
        else:
            a, w_self = self_attention(x)
            x = self._norm(1, x + a)
            c, w_cross = cross_attention(x)
            x = self._norm(2, x + c)
            x = self._norm(3, x + self.feed_forward(x))
        return (x, w_self, w_cross) if return_weights else x

    def load_torch_state(self, state) -> "TransformerDecoderBlock":
        """Copy the weights of a ``torch.nn.TransformerDecoderLayer`` from its ``state_dict()``.

        ``state`` maps torch's parameter names (``self_attn.in_proj_weight``,
        ``multihead_attn.out_proj.bias``, ``linear1.weight``, ``norm3.bias``, ...) to tensors or
        arrays. The layer must have biases and the block's width and feed-forward width.
        """
        if not hasattr(state, "keys"):
            raise TypeError(f"state must be a mapping of parameter names to arrays, got "
                            f"{type(state).__name__}")
        names = [f"{a}.{p}" for a in ("self_attn", "multihead_attn")
                 for p in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")]
        names += [f"linear{k}.{p}" for k in (1, 2) for p in ("weight", "bias")]
        names += [f"norm{k}.{p}" for k in (1, 2, 3) for p in ("weight", "bias")]
        missing = [n for n in names if n not in state]
        if missing:
            raise ValueError(f"state lacks {missing}; pass the state_dict() of a "
                             f"TransformerDecoderLayer with biases")

        def arr(name):
            v = state[name]
            v = v.detach().cpu().numpy() if hasattr(v, "detach") else v
            return check_array(name, v)

        for ours, theirs in ((self.self_attn, "self_attn"), (self.cross_attn, "multihead_attn")):
            ours.set_weights(arr(f"{theirs}.in_proj_weight"), arr(f"{theirs}.out_proj.weight"),
                             arr(f"{theirs}.in_proj_bias"), arr(f"{theirs}.out_proj.bias"))
        d, f = self.d_model, self.d_ff
        shapes = {"linear1.weight": (f, d), "linear1.bias": (f,), "linear2.weight": (d, f),
                  "linear2.bias": (d,)}
        shapes.update({f"norm{k}.{p}": (d,) for k in (1, 2, 3) for p in ("weight", "bias")})
        values = {}
        for name, shape in shapes.items():
            values[name] = arr(name)
            if values[name].shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {values[name].shape}")
        self.w1, self.b1 = values["linear1.weight"].copy(), values["linear1.bias"].copy()
        self.w2, self.b2 = values["linear2.weight"].copy(), values["linear2.bias"].copy()
        for k in (1, 2, 3):
            setattr(self, f"ln{k}_gamma", values[f"norm{k}.weight"].copy())
            setattr(self, f"ln{k}_beta", values[f"norm{k}.bias"].copy())
        return self
