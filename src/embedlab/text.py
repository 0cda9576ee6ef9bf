r"""Bag of words, TF-IDF and cosine similarity on sparse matrices.

**Tokens.** A document becomes a list of tokens: optionally lower-cased, split into runs of two
or more word characters (the regular expression ``(?u)\b\w\w+\b``, scikit-learn's default), and
optionally without *stop words*, very frequent function words such as "the" or "of".

**Counts.** With a vocabulary of :math:`V` terms sorted alphabetically, document :math:`d` becomes
the row :math:`c_d \in \mathbb{N}^V` of a *count matrix* :math:`C`, where :math:`c_{dt}` is the
number of times term :math:`t` occurs in :math:`d`. Word order is lost ("bag of words"). Almost all
entries are zero, so :math:`C` is stored sparse (CSR: per row, the columns and values of the
non-zeros only), with memory proportional to the number of non-zeros, not to :math:`N V`.

**TF-IDF** (Sparck Jones, 1972; Salton and Buckley, 1988) weighs a count by how rare the term is
in the collection. With :math:`N` documents and document frequency :math:`\mathrm{df}_t` (the
number of documents that contain :math:`t`), scikit-learn's variants are

.. math::

    \mathrm{idf}_t = \ln\frac{1 + N}{1 + \mathrm{df}_t} + 1 \quad (\texttt{smooth\_idf=True}),
    \qquad
    \mathrm{idf}_t = \ln\frac{N}{\mathrm{df}_t} + 1 \quad (\texttt{smooth\_idf=False}),

.. math::

    \mathrm{tf}_{dt} = c_{dt} \quad (\texttt{sublinear\_tf=False}), \qquad
    \mathrm{tf}_{dt} = 1 + \ln c_{dt} \text{ for } c_{dt} > 0 \quad (\texttt{sublinear\_tf=True}),

and :math:`x_{dt} = \mathrm{tf}_{dt}\,\mathrm{idf}_t`, after which each row is divided by its
L2 norm, its L1 norm, or left alone (``norm="l2"``, ``"l1"``, ``None``). Smoothing acts as if one
extra document contained every term once, so no division by zero happens; the ``+ 1`` keeps terms
that occur in every document instead of zeroing them.

**Cosine similarity** of two vectors is the cosine of the angle between them,

.. math::

    \cos(x, y) = \frac{x^\top y}{\lVert x \rVert\, \lVert y \rVert},

which ignores length: a document and the same document repeated twice have cosine 1. For rows
that are already L2-normalised it is a plain dot product, so all pairwise similarities of a
normalised matrix :math:`X` are :math:`X X^\top`, a sparse-times-sparse product.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_choice, check_int

__all__ = [
    "TOKEN_PATTERN", "english_stop_words", "tokenize", "CountVectorizer", "TfidfVectorizer",
    "idf_weights", "tfidf_weight", "normalize_rows", "cosine_similarity", "nearest_documents",
    "similarity_correlation",
]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def english_stop_words() -> frozenset[str]:
    """The English stop-word list of scikit-learn (318 words, from the Glasgow IR group).

    We reuse the list itself (data, not code) so that ``stop_words="english"`` removes exactly
    the words that ``sklearn.feature_extraction.text.CountVectorizer`` removes.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _resolve_stop_words(stop_words) -> frozenset[str] | None:
    if stop_words is None:
        return None
    if isinstance(stop_words, str):
        check_choice("stop_words", stop_words, ("english",))
        return english_stop_words()
    if not isinstance(stop_words, Iterable):
        raise TypeError(f"stop_words must be None, 'english' or a list of words, got "
                        f"{type(stop_words).__name__}")
    words = list(stop_words)
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise TypeError(f"stop_words must hold strings, got {bad[0]!r}")
    return frozenset(words)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _compile(token_pattern) -> re.Pattern:
    if not isinstance(token_pattern, str):
        raise TypeError(f"token_pattern must be a regular expression string, got "
                        f"{type(token_pattern).__name__}")
    try:
        pattern = re.compile(token_pattern)
    except re.error as exc:
        raise ValueError(f"token_pattern {token_pattern!r} is not a valid regular expression: "
                         f"{exc}") from None
    if pattern.groups > 1:
        raise ValueError(f"token_pattern may have at most one capturing group, got "
                         f"{pattern.groups}")
    return pattern


def _check_docs(name: str, docs) -> list[str]:
    if isinstance(docs, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings (one per document), got a single "
                        "string; wrap it in a list")
    if not isinstance(docs, Iterable):
        raise TypeError(f"{name} must be a list of strings, got {type(docs).__name__}")
    docs = list(docs)
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(d).__name__}")
    return docs


def _analyzer(lowercase: bool, stop_words: frozenset[str] | None, pattern: re.Pattern):
    findall = pattern.findall
    if stop_words is None:
        if lowercase:
            return lambda doc: findall(doc.lower())
        return findall
    if lowercase:
        return lambda doc: [t for t in findall(doc.lower()) if t not in stop_words]
    return lambda doc: [t for t in findall(doc) if t not in stop_words]


def tokenize(doc: str, *, lowercase: bool = True, stop_words=None,
             token_pattern: str = TOKEN_PATTERN) -> list[str]:
    """The tokens of one document, in order.

    ``lowercase`` lower-cases the text first; ``stop_words`` is ``None``, ``"english"`` or a list
    of words to drop (compared after lower-casing, if any); ``token_pattern`` is the regular
    expression of one token.
    """
    if not isinstance(doc, str):
        raise TypeError(f"doc must be a string, got {type(doc).__name__}")
    analyze = _analyzer(_check_bool("lowercase", lowercase), _resolve_stop_words(stop_words),
                        _compile(token_pattern))
    return analyze(doc)


class CountVectorizer:
    """Documents to a sparse count matrix over an alphabetically sorted vocabulary.

    Parameters are those of :func:`tokenize`. After :meth:`fit`: ``vocabulary_`` (term ->
    column) and :meth:`get_feature_names_out` (the terms in column order). Terms unseen at fit
    time are ignored by :meth:`transform`.
    """

    def __init__(self, *, lowercase: bool = True, stop_words=None,
                 token_pattern: str = TOKEN_PATTERN):
        self.lowercase = _check_bool("lowercase", lowercase)
        self.stop_words = stop_words
        self._stop = _resolve_stop_words(stop_words)
        self.token_pattern = token_pattern
        self._pattern = _compile(token_pattern)
        self.vocabulary_: dict[str, int] | None = None

    def build_analyzer(self):
        """The function ``str -> list of tokens`` that this vectorizer applies to a document."""
        return _analyzer(self.lowercase, self._stop, self._pattern)

    def _count(self, docs: list[str], fit: bool) -> sp.csr_array:
        analyze = self.build_analyzer()
        indices: list[int] = []
        indptr = [0]
        if fit:
            # A new term gets the next free id the first time it is looked up.
            vocab: dict[str, int] = defaultdict()
            vocab.default_factory = vocab.__len__
            lookup = vocab.__getitem__
            for doc in docs:
                indices.extend(map(lookup, analyze(doc)))
                indptr.append(len(indices))
            if not vocab:
                raise ValueError("the vocabulary is empty: the documents hold no tokens (only "
                                 "stop words or no word of two characters or more)")
            terms = sorted(vocab)
            # Column ids were given in order of first appearance; renumber them alphabetically.
            new_id = np.empty(len(terms), dtype=np.int64)
            new_id[[vocab[t] for t in terms]] = np.arange(len(terms))
            cols = new_id[np.array(indices, dtype=np.int64)]
            self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        else:
            vocab = self.vocabulary_
            for doc in docs:
                indices.extend([vocab[t] for t in analyze(doc) if t in vocab])
                indptr.append(len(indices))
            cols = np.array(indices, dtype=np.int64)
        X = sp.csr_array((np.ones(len(cols), dtype=np.int64), cols,
                          np.array(indptr, dtype=np.int64)),
                         shape=(len(docs), len(self.vocabulary_)))
        X.sum_duplicates()  # sorts the columns of each row and adds up repeated terms
        return X

    def fit(self, docs):
        """Learn the vocabulary of ``docs`` (a list of strings); returns ``self``."""
        self.fit_transform(docs)
        return self

    def fit_transform(self, docs) -> sp.csr_array:
        """Learn the vocabulary and return the (n_docs, V) count matrix of ``docs``."""
        docs = _check_docs("docs", docs)
        if not docs:
            raise ValueError("docs is empty: need at least one document to learn a vocabulary")
        return self._count(docs, fit=True)

    def transform(self, docs) -> sp.csr_array:
        """Count matrix of ``docs`` over the fitted vocabulary."""
        if self.vocabulary_ is None:
            raise RuntimeError(f"call fit before transform on this {type(self).__name__}")
        return self._count(_check_docs("docs", docs), fit=False)

    def get_feature_names_out(self) -> np.ndarray:
        """The vocabulary in column order."""
        if self.vocabulary_ is None:
            raise RuntimeError("call fit before get_feature_names_out")
        return np.array(list(self.vocabulary_), dtype=object)


def _check_counts(counts) -> sp.csr_array:
    if sp.issparse(counts):
        counts = sp.csr_array(counts)
        if counts.ndim != 2:
            raise ValueError(f"counts must be 2-D, got {counts.ndim}-D")
    else:
        counts = sp.csr_array(check_array("counts", counts, ndim=2))
    if counts.shape[0] == 0:
        raise ValueError("counts has no rows (documents)")
    if counts.data.size and counts.data.min() < 0:
        raise ValueError("counts must be non-negative")
    return counts


def idf_weights(counts, *, smooth_idf: bool = True) -> np.ndarray:
    """Inverse document frequency of every column of a count matrix (see the module docstring)."""
    counts = _check_counts(counts)
    smooth_idf = _check_bool("smooth_idf", smooth_idf)
    nonzero = counts.indices[counts.data != 0]
    df = np.bincount(nonzero, minlength=counts.shape[1]).astype(np.float64)
    n = float(counts.shape[0])
    if smooth_idf:
        df += 1.0
        n += 1.0
    elif (df == 0).any():
        raise ValueError(f"{int((df == 0).sum())} terms occur in no document: their idf is "
                         "infinite without smoothing; use smooth_idf=True")
    return np.log(n / df) + 1.0


def normalize_rows(X, norm: str | None = "l2"):
    """Divide every row by its L2 or L1 norm (``norm=None``: unchanged); zero rows stay zero.

    Works on dense arrays and on sparse matrices (returns a ``csr_array``).
    """
    if norm is not None:
        check_choice("norm", norm, ("l1", "l2"))
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=np.float64, copy=True)
        if norm is None:
            return X
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        values = X.data * X.data if norm == "l2" else np.abs(X.data)
        sizes = np.bincount(rows, weights=values, minlength=X.shape[0])
        if norm == "l2":
            sizes = np.sqrt(sizes)
        sizes[sizes == 0] = 1.0
        X.data /= sizes[rows]
        return X
    X = check_array("X", X, ndim=2)
    if norm is None:
        return X.copy()
    sizes = np.sqrt((X * X).sum(axis=1)) if norm == "l2" else np.abs(X).sum(axis=1)
    sizes[sizes == 0] = 1.0
    return X / sizes[:, None]


def tfidf_weight(counts, idf, *, sublinear_tf: bool = False, norm: str | None = "l2") -> sp.csr_array:
    """TF-IDF matrix of a count matrix, given the idf of every column."""
    counts = _check_counts(counts)
    idf = check_array("idf", idf, ndim=1)
    if idf.shape[0] != counts.shape[1]:
        raise ValueError(f"idf has {idf.shape[0]} weights for {counts.shape[1]} columns")
    sublinear_tf = _check_bool("sublinear_tf", sublinear_tf)
    if norm is not None:
        check_choice("norm", norm, ("l1", "l2"))
    X = sp.csr_array(counts, dtype=np.float64, copy=True)
    X.eliminate_zeros()
    if sublinear_tf:
        X.data = np.log(X.data) + 1.0
    X.data *= idf[X.indices]
    return normalize_rows(X, norm)


class TfidfVectorizer(CountVectorizer):
    """Documents to a sparse TF-IDF matrix: :class:`CountVectorizer`, then :func:`idf_weights`
    (learned at fit time, in ``idf_``) and :func:`tfidf_weight`."""

    def __init__(self, *, lowercase: bool = True, stop_words=None,
                 token_pattern: str = TOKEN_PATTERN, smooth_idf: bool = True,
                 sublinear_tf: bool = False, norm: str | None = "l2"):
        super().__init__(lowercase=lowercase, stop_words=stop_words, token_pattern=token_pattern)
        self.smooth_idf = _check_bool("smooth_idf", smooth_idf)
        self.sublinear_tf = _check_bool("sublinear_tf", sublinear_tf)
        if norm is not None:
            check_choice("norm", norm, ("l1", "l2"))
        self.norm = norm
        self.idf_: np.ndarray | None = None

    def fit_transform(self, docs) -> sp.csr_array:
        counts = super().fit_transform(docs)
        self.idf_ = idf_weights(counts, smooth_idf=self.smooth_idf)
        return tfidf_weight(counts, self.idf_, sublinear_tf=self.sublinear_tf, norm=self.norm)

    def transform(self, docs) -> sp.csr_array:
        counts = super().transform(docs)
        return tfidf_weight(counts, self.idf_, sublinear_tf=self.sublinear_tf, norm=self.norm)


def _as_matrix(name: str, X):
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {X.ndim}-D")
        return sp.csr_array(X, dtype=np.float64)
    return check_array(name, X, ndim=2)


def cosine_similarity(X, Y=None) -> np.ndarray:
    """Cosine similarity of every row of ``X`` with every row of ``Y`` (default: ``X``).

    ``X`` and ``Y`` are dense arrays or sparse matrices with the same number of columns. Rows of
    zeros have similarity 0 with everything. Returns a dense (n_X, n_Y) array.
    """
    X = _as_matrix("X", X)
    Y = X if Y is None else _as_matrix("Y", Y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns and Y has {Y.shape[1]}: they must match")
    Xn = normalize_rows(X, "l2")
    Yn = Xn if Y is X else normalize_rows(Y, "l2")
    S = Xn @ Yn.T
    return S.toarray() if sp.issparse(S) else np.asarray(S)


def nearest_documents(X, query: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``X`` most cosine-similar to row ``query``, itself left out.

    Returns (indices, similarities), most similar first; ties keep the lower index first.
    """
    X = _as_matrix("X", X)
    n = X.shape[0]
    query = check_int("query", query, minimum=0, maximum=n - 1)
    k = check_int("k", k, minimum=1, maximum=max(n - 1, 1))
    if n < 2:
        raise ValueError("X needs at least two rows to have a neighbour")
    sims = cosine_similarity(X[[query]], X)[0]
    sims[query] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


def similarity_correlation(model_sims, human_sims) -> tuple[float, float]:
    """Pearson and Spearman correlation of two square similarity matrices over all pairs i < j.

    The diagonal (a document with itself) and the lower triangle (the same pairs again) are
    left out, as is usual on the Lee benchmark.
    """
    from scipy.stats import pearsonr, spearmanr

    a = check_array("model_sims", model_sims, ndim=2)
    b = check_array("human_sims", human_sims, ndim=2)
    if a.shape != b.shape or a.shape[0] != a.shape[1]:
        raise ValueError(f"model_sims and human_sims must be square and of the same shape, got "
                         f"{a.shape} and {b.shape}")
    if a.shape[0] < 3:
        raise ValueError("need at least 3 documents (3 pairs) to compute a correlation")
    iu = np.triu_indices(a.shape[0], k=1)
    x, y = a[iu], b[iu]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("one of the similarity matrices is constant over the pairs: the "
                         "correlation is undefined")
    return float(pearsonr(x, y)[0]), float(spearmanr(x, y)[0])
