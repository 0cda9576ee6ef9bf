r"""Encoding categories as numbers: ordinal, one-hot, indicator (n-1) and the hashing trick.

A categorical column takes one of :math:`n` values :math:`c_1, \dots, c_n` (the *categories*).

**Ordinal encoding** maps :math:`c_j \mapsto j - 1`. It is one column, and it tells a model that
:math:`c_3` lies twice as far from :math:`c_1` as :math:`c_2` does, so it is only honest when the
categories have a real order (sizes, ratings).

**One-hot encoding** maps :math:`c_j` to the unit vector :math:`e_j \in \{0, 1\}^n`. No order and no
distance is implied: every two different categories are :math:`\sqrt 2` apart. The columns of one
feature always sum to one,

.. math::

    \sum_{j=1}^{n} x_{ij} = 1 \quad \text{for every row } i,

which is exactly the intercept column. A linear model with an intercept on one-hot features
therefore has a design matrix :math:`[\mathbf 1, X]` whose rank is one less than its number of
columns per encoded feature: adding :math:`t` to every weight of the feature and subtracting
:math:`t` from the intercept leaves every prediction unchanged, so the unpenalised least-squares or
maximum-likelihood solution is not unique.

**Indicator (n-1, "dummy") encoding** drops the column of the first category. That category
becomes the baseline (all zeros), the intercept is its score, and each remaining weight is a
difference from the baseline; the design matrix has full column rank.

**The hashing trick** (Weinberger et al., 2009) skips the vocabulary: a token :math:`t` goes to
column :math:`h(t) \bmod m` with sign :math:`\xi(t) \in \{-1, +1\}`, both derived from one 32-bit
hash. The width :math:`m` is fixed in advance, unseen tokens need no special case, and different
tokens may collide in one column; the random sign makes collisions cancel on average, so inner
products are preserved in expectation. The hash here is MurmurHash3 (x86, 32-bit, Appleby), the
function scikit-learn's ``FeatureHasher`` uses, so both put every token in the same column.
If :math:`V` distinct tokens fall uniformly into :math:`m` columns, one token shares its column
with at least one other with probability

.. math::

    1 - \left(1 - \frac 1m\right)^{V-1} \approx 1 - e^{-V/m}.

**One-hot times a matrix is a lookup.** For a weight matrix :math:`W \in \mathbb R^{n \times d}`,
:math:`e_j^\top W = W_j`: multiplying a one-hot row by :math:`W` reads row :math:`j`. A linear model
on one-hot features therefore stores one number per category (:math:`d = 1`), and an embedding
layer stores :math:`d` of them; both are tables indexed by the category.

**Width.** The one-hot width of an id column is its number of distinct values, which keeps growing
with the data. For words, the number of distinct words :math:`V(N)` among the first :math:`N` tokens
grows roughly as :math:`K N^\beta` with :math:`0 < \beta < 1` (Heaps, 1978).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_choice, check_float, check_int, check_seed

__all__ = [
    "OrdinalEncoder", "OneHotEncoder", "IndicatorEncoder", "murmurhash3_32", "hash_features",
    "FeedClicks", "make_feed_clicks", "make_category_clicks", "vocabulary_growth",
]


def _check_table(name: str, X) -> np.ndarray:
    """A 2-D array of categories (strings, integers, ...), at least one row."""
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D array-like of categories, got {type(X).__name__}")
    X = check_array(name, X, ndim=2, dtype=None, finite=False)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {X.shape}")
    if X.dtype.kind == "f" and np.isnan(X).any():
        raise ValueError(f"{name} contains NaN; encode missing values as their own category")
    return X


def _check_categories(categories, n_columns: int) -> list[np.ndarray] | None:
    if isinstance(categories, str):
        check_choice("categories", categories, ("auto",))
        return None
    if not isinstance(categories, Sequence):
        raise TypeError(f"categories must be 'auto' or a list with one list of categories per "
                        f"column, got {type(categories).__name__}")
    if len(categories) != n_columns:
        raise ValueError(f"categories has {len(categories)} lists but X has {n_columns} columns")
    out = []
    for j, cats in enumerate(categories):
        if isinstance(cats, (str, bytes)) or not isinstance(cats, Iterable):
            raise TypeError(f"categories[{j}] must be a list of categories, got {cats!r}")
        cats = np.asarray(list(cats))
        if cats.size == 0:
            raise ValueError(f"categories[{j}] is empty")
        if len(np.unique(cats)) != len(cats):
            raise ValueError(f"categories[{j}] has repeated values: {cats.tolist()}")
        out.append(cats)
    return out


class _CategoryEncoder:
    """Shared part of the encoders: learn the categories of each column, map values to codes."""

    def __init__(self, categories="auto"):
        self.categories = categories
        self.categories_: list[np.ndarray] | None = None

    def fit(self, X):
        """Learn the categories of each column of ``X`` (sorted, unless given); returns ``self``."""
        X = _check_table("X", X)
        given = _check_categories(self.categories, X.shape[1])
        if given is None:
            self.categories_ = [np.unique(X[:, j]) for j in range(X.shape[1])]
        else:
            for j, cats in enumerate(given):
                unseen = set(np.unique(X[:, j]).tolist()) - set(cats.tolist())
                if unseen and self.handle_unknown == "error":
                    raise ValueError(f"column {j} of X has values not in categories[{j}]: "
                                     f"{sorted(map(str, unseen))[:5]}")
            self.categories_ = given
        return self

    def _codes(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes of ``X`` (n, k) and a mask of the values that are unknown."""
        if self.categories_ is None:
            raise RuntimeError(f"call fit before transform on this {type(self).__name__}")
        X = _check_table("X", X)
        if X.shape[1] != len(self.categories_):
            raise ValueError(f"X has {X.shape[1]} columns, the encoder was fitted on "
                             f"{len(self.categories_)}")
        codes = np.zeros(X.shape, dtype=np.int64)
        unknown = np.zeros(X.shape, dtype=bool)
        for j, cats in enumerate(self.categories_):
            lookup = {c: i for i, c in enumerate(cats.tolist())}
            col = X[:, j].tolist()
            for i, value in enumerate(col):
                code = lookup.get(value)
                if code is None:
                    unknown[i, j] = True
                else:
                    codes[i, j] = code
        return codes, unknown

    def _raise_unknown(self, X, unknown):
        i, j = np.argwhere(unknown)[0]
        value = np.asarray(X)[i, j]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"X has a category unknown at fit time: {value!r} in "
                         f"column {j} (row {i}); known: {self.categories_[j].tolist()[:10]}")

    def fit_transform(self, X):
        """:meth:`fit` then :meth:`transform` on the same ``X``."""
        return self.fit(X).transform(X)


class OrdinalEncoder(_CategoryEncoder):
    """Replace each category by its position in the list of categories of its column.

    Parameters
    ----------
    categories : ``"auto"`` (sorted unique values of each column) or one list per column, in the
        order that is real (``[["small", "medium", "large"]]``).
    handle_unknown : ``"error"`` raises on a category not seen at fit time;
        ``"use_encoded_value"`` writes ``unknown_value`` instead.
    unknown_value : the code of unknown categories with ``"use_encoded_value"`` (a number or NaN).

    The output is a float array of shape (n, k), like scikit-learn's ``OrdinalEncoder``.
    """

    def __init__(self, categories="auto", *, handle_unknown: str = "error",
                 unknown_value: float | None = None):
        super().__init__(categories)
        self.handle_unknown = check_choice("handle_unknown", handle_unknown,
                                           ("error", "use_encoded_value"))
        if handle_unknown == "use_encoded_value":
            if unknown_value is None:
                raise TypeError("unknown_value must be a number (or NaN) when "
                                "handle_unknown='use_encoded_value'")
            if isinstance(unknown_value, bool) or not isinstance(unknown_value, (int, float)):
                raise TypeError(f"unknown_value must be a number or NaN, got {unknown_value!r}")
        elif unknown_value is not None:
            raise ValueError("unknown_value is only used with handle_unknown='use_encoded_value'")
        self.unknown_value = unknown_value

    def transform(self, X) -> np.ndarray:
        """Codes of ``X`` as a float array of the same shape."""
        codes, unknown = self._codes(X)
        out = codes.astype(np.float64)
        if unknown.any():
            if self.handle_unknown == "error":
                self._raise_unknown(X, unknown)
            out[unknown] = self.unknown_value
        return out


class OneHotEncoder(_CategoryEncoder):
    """One column per category: a 1 where the row has that category, 0 elsewhere.

    Parameters
    ----------
    categories : ``"auto"`` or one list of categories per column (as in :class:`OrdinalEncoder`).
    drop : ``None`` keeps all n columns of a feature; ``"first"`` drops the column of the first
        category (indicator or "dummy" encoding, n-1 columns, the first category is the baseline).
    handle_unknown : ``"error"`` raises on a category unseen at fit time; ``"ignore"`` encodes it
        as a row of zeros in that feature's block. With ``drop="first"`` such a row is the same
        as the baseline category's, so the model cannot tell them apart.
    sparse_output : return a ``scipy.sparse.csr_array`` instead of a dense array.
    """

    def __init__(self, categories="auto", *, drop: str | None = None,
                 handle_unknown: str = "error", sparse_output: bool = False):
        super().__init__(categories)
        if drop is not None:
            check_choice("drop", drop, ("first",))
        self.drop = drop
        self.handle_unknown = check_choice("handle_unknown", handle_unknown, ("error", "ignore"))
        if not isinstance(sparse_output, bool):
            raise TypeError(f"sparse_output must be True or False, got {sparse_output!r}")
        self.sparse_output = sparse_output

    def fit(self, X):
        super().fit(X)
        if self.drop == "first" and any(len(c) < 2 for c in self.categories_):
            j = next(j for j, c in enumerate(self.categories_) if len(c) < 2)
            raise ValueError(f"column {j} has a single category: drop='first' would leave it "
                             "with no column")
        return self

    def _widths(self) -> list[int]:
        shift = 1 if self.drop == "first" else 0
        return [len(c) - shift for c in self.categories_]

    def transform(self, X):
        """The one-hot (or n-1) matrix of ``X``: shape (n, sum of the widths of all columns)."""
        codes, unknown = self._codes(X)
        if unknown.any() and self.handle_unknown == "error":
            self._raise_unknown(X, unknown)
        widths = self._widths()
        offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
        cols = codes + offsets
        keep = ~unknown
        if self.drop == "first":
            keep &= codes != 0          # the baseline category has no column
            cols = cols - 1
        rows = np.broadcast_to(np.arange(codes.shape[0])[:, None], codes.shape)
        out = sp.csr_array((np.ones(int(keep.sum())), (rows[keep], cols[keep])),
                           shape=(codes.shape[0], int(sum(widths))))
        return out if self.sparse_output else out.toarray()

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> list[str]:
        """Names of the output columns, ``"<feature>_<category>"``."""
        if self.categories_ is None:
            raise RuntimeError("call fit before get_feature_names_out")
        k = len(self.categories_)
        if input_features is None:
            input_features = [f"x{j}" for j in range(k)]
        if isinstance(input_features, str) or len(input_features) != k:
            raise ValueError(f"input_features must be a list of {k} names, got {input_features!r}")
        shift = 1 if self.drop == "first" else 0
        return [f"{name}_{c}" for name, cats in zip(input_features, self.categories_)
                for c in cats.tolist()[shift:]]


class IndicatorEncoder(OneHotEncoder):
    """Indicator (n-1, "dummy") encoding: :class:`OneHotEncoder` with ``drop="first"``."""

    def __init__(self, categories="auto", *, handle_unknown: str = "error",
                 sparse_output: bool = False):
        super().__init__(categories, drop="first", handle_unknown=handle_unknown,
                         sparse_output=sparse_output)


_MASK32 = 0xFFFFFFFF


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def murmurhash3_32(key: str | bytes, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32-bit) of a string (UTF-8) or bytes, as a signed 32-bit integer."""
    if isinstance(key, str):
        data = key.encode("utf-8")
    elif isinstance(key, bytes):
        data = key
    else:
        raise TypeError(f"key must be str or bytes, got {type(key).__name__}")
    seed = check_int("seed", seed, minimum=0, maximum=_MASK32)
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed
    n_blocks = len(data) // 4
    for b in range(n_blocks):               # body: 4 bytes at a time, little endian
        k = int.from_bytes(data[4 * b:4 * b + 4], "little")
        k = _rotl32((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
        h = (_rotl32(h, 13) * 5 + 0xE6546B64) & _MASK32
    tail = data[4 * n_blocks:]               # the last 0-3 bytes
    k = 0
    for i in reversed(range(len(tail))):
        k ^= tail[i] << (8 * i)
    if tail:
        k = _rotl32((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
    h ^= len(data)                           # finalisation mix: spread every input bit
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h - (1 << 32) if h >= (1 << 31) else h


def hash_features(samples: Iterable[Iterable[str]], n_features: int = 2**20, *,
                  alternate_sign: bool = True) -> sp.csr_array:
    """The hashing trick: one row per sample, each token adds ``+-1`` to column ``|h| mod m``.

    ``samples`` is a list of token lists (``[["topic=sports", "device=ios"], ...]``). The hash is
    :func:`murmurhash3_32` with seed 0; the sign is that of the hash when ``alternate_sign``.
    Repeated tokens add up. The result equals scikit-learn's
    ``FeatureHasher(n_features, input_type="string", alternate_sign=...)``.
    """
    n_features = check_int("n_features", n_features, minimum=1, maximum=2**31 - 1)
    if not isinstance(alternate_sign, bool):
        raise TypeError(f"alternate_sign must be True or False, got {alternate_sign!r}")
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Iterable):
        raise TypeError(f"samples must be a list of token lists, got {type(samples).__name__}")
    indices, values, indptr = [], [], [0]
    cache: dict[str, tuple[int, float]] = {}
    for i, tokens in enumerate(samples):
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
            raise TypeError(f"samples[{i}] must be a list of strings (tokens), got {tokens!r}")
        for token in tokens:
            if token not in cache:
                if not isinstance(token, str):
                    raise TypeError(f"tokens must be strings, samples[{i}] holds {token!r}")
                h = murmurhash3_32(token)
                # abs(-2**31) overflows a signed 32-bit integer; scikit-learn defines the column
                # as (2**31 - 1 - (m - 1)) mod m in that one case, and so do we.
                col = (2**31 - 1 - (n_features - 1)) % n_features if h == -2**31 \
                    else abs(h) % n_features
                cache[token] = (col, -1.0 if (alternate_sign and h < 0) else 1.0)
            col, sign = cache[token]
            indices.append(col)
            values.append(sign)
        indptr.append(len(indices))
    out = sp.csr_array((np.array(values, dtype=np.float64), np.array(indices, dtype=np.int64),
                        np.array(indptr, dtype=np.int64)), shape=(len(indptr) - 1, n_features))
    out.sum_duplicates()
    return out


@dataclass(frozen=True)
class FeedClicks:
    """Impressions of posts in a social feed with categorical features and a click label.

    Attributes
    ----------
    X : (n, 3) array of strings: ``topic``, ``device``, ``length`` (in ``feature_names`` order)
    y : (n,) int array, 1 if the user clicked the post
    feature_names : the column names
    categories : the categories of each column (``length`` in its real order)
    effects : per column, the true additive effect on the log-odds of each category
    intercept : the true log-odds of a click for the baseline (all effects zero)
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    effects: dict[str, dict[str, float]]
    intercept: float


_TOPICS = ("cooking", "music", "news", "sports", "tech")
_DEVICES = ("android", "ios", "web")
_LENGTHS = ("short", "medium", "long")


def make_feed_clicks(n: int = 2000, *, seed: int | None = 0, effect_scale: float = 1.0) -> FeedClicks:
    """Generate ``n`` feed impressions with three categorical features and a click.

    Generative model, for impression i:

    * ``topic`` of the post ~ Categorical over (cooking, music, news, sports, tech) with
      probabilities (0.15, 0.25, 0.2, 0.25, 0.15);
    * ``device`` of the user ~ Categorical over (android, ios, web) with (0.45, 0.35, 0.2);
    * ``length`` of the post ~ Categorical over (short, medium, long) with (0.5, 0.3, 0.2);
      its order is real;
    * click ~ Bernoulli(sigmoid(z)) with log-odds
      ``z = -1 + a_topic + b_device + c_length`` and effects (times ``effect_scale``)
      a = (0, 0.8, -0.4, 1.2, 0.5), b = (0, 0.3, -0.6), c = (0, -0.5, -1.1).
    """
    n = check_int("n", n, minimum=1)
    seed = check_seed("seed", seed)
    effect_scale = check_float("effect_scale", effect_scale)
    rng = np.random.default_rng(seed)
    topic = rng.choice(len(_TOPICS), size=n, p=[0.15, 0.25, 0.2, 0.25, 0.15])
    device = rng.choice(len(_DEVICES), size=n, p=[0.45, 0.35, 0.2])
    length = rng.choice(len(_LENGTHS), size=n, p=[0.5, 0.3, 0.2])
    a = effect_scale * np.array([0.0, 0.8, -0.4, 1.2, 0.5])
    b = effect_scale * np.array([0.0, 0.3, -0.6])
    c = effect_scale * np.array([0.0, -0.5, -1.1])
    intercept = -1.0
    z = intercept + a[topic] + b[device] + c[length]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    X = np.column_stack([np.array(_TOPICS)[topic], np.array(_DEVICES)[device],
                         np.array(_LENGTHS)[length]])
    effects = {
        "topic": dict(zip(_TOPICS, a.tolist())),
        "device": dict(zip(_DEVICES, b.tolist())),
        "length": dict(zip(_LENGTHS, c.tolist())),
    }
    return FeedClicks(X=X, y=y, feature_names=("topic", "device", "length"),
                      categories={"topic": _TOPICS, "device": _DEVICES, "length": _LENGTHS},
                      effects=effects, intercept=intercept)


def make_category_clicks(n: int, effects: Mapping[str, float], *, intercept: float = -1.0,
                         probabilities: Sequence[float] | None = None, name: str = "category",
                         seed: int | None = 0) -> FeedClicks:
    """Generate ``n`` clicks that depend on one categorical feature with known effects.

    Generative model, for impression i: the category ``c_i`` is drawn from the keys of
    ``effects`` with ``probabilities`` (uniform when None), and the click is
    ``Bernoulli(sigmoid(intercept + effects[c_i]))``.

    The result is a :class:`FeedClicks` with ``X`` of shape (n, 1), ``feature_names == (name,)``
    and the categories in the order of ``effects``.
    """
    n = check_int("n", n, minimum=1)
    seed = check_seed("seed", seed)
    intercept = check_float("intercept", intercept)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a non-empty string, got ''")
    if not isinstance(effects, Mapping):
        raise TypeError(f"effects must be a dict from category to effect, got "
                        f"{type(effects).__name__}")
    if len(effects) == 0:
        raise ValueError("effects is empty: give at least one category")
    cats = list(effects)
    for c in cats:
        if not isinstance(c, str):
            raise TypeError(f"the categories (keys of effects) must be strings, got {c!r}")
    values = np.array([check_float(f"effects[{c!r}]", effects[c]) for c in cats])
    if probabilities is None:
        p = np.full(len(cats), 1.0 / len(cats))
    else:
        p = check_array("probabilities", probabilities, ndim=1)
        if len(p) != len(cats):
            raise ValueError(f"probabilities has {len(p)} entries for {len(cats)} categories")
        if (p < 0).any() or abs(p.sum() - 1.0) > 1e-9:
            raise ValueError(f"probabilities must be non-negative and sum to 1, got {p.tolist()}")
    rng = np.random.default_rng(seed)
    code = rng.choice(len(cats), size=n, p=p)
    z = intercept + values[code]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    X = np.array(cats)[code][:, None]
    return FeedClicks(X=X, y=y, feature_names=(name,), categories={name: tuple(cats)},
                      effects={name: dict(zip(cats, values.tolist()))}, intercept=intercept)


def vocabulary_growth(tokens: Sequence[str], sizes) -> np.ndarray:
    """Number of distinct tokens among the first ``s`` tokens, for each ``s`` in ``sizes``.

    This is the one-hot width of the column ``tokens[:s]``: one column per distinct value.
    ``sizes`` are integers between 0 and ``len(tokens)``, in any order.
    """
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a list of strings, got {type(tokens).__name__}")
    sizes = check_array("sizes", sizes, ndim=1, dtype=int)
    if sizes.size and (sizes.min() < 0 or sizes.max() > len(tokens)):
        raise ValueError(f"sizes must lie between 0 and len(tokens) = {len(tokens)}, got "
                         f"values from {sizes.min()} to {sizes.max()}")
    first_seen: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(f"tokens must be strings, tokens[{i}] is {token!r}")
        if token not in first_seen:
            first_seen[token] = i
    firsts = np.sort(np.fromiter(first_seen.values(), dtype=np.int64, count=len(first_seen)))
    # a token is in the prefix of length s when it was first seen at a position below s
    return np.searchsorted(firsts, sizes, side="left").astype(np.int64)
