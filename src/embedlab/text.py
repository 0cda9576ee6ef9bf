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

**N-grams.** With ``ngram_range=(lo, hi)`` a document also yields every run of :math:`n`
consecutive tokens, :math:`lo \le n \le hi`, joined by a space ("prime minister"), after stop
words are removed, as in scikit-learn.

**Word-word co-occurrence.** For token lists (sentences or documents) and a window :math:`k`,
the co-occurrence count of words :math:`w` and :math:`c` is the number of position pairs
:math:`(i, j)` in the same list with :math:`0 < |i - j| \le k`, :math:`t_i = w` and
:math:`t_j = c`. The matrix is symmetric; its diagonal counts a word near another occurrence of
itself. Tokens outside the vocabulary are skipped but keep their positions, so the counts of two
kept words do not depend on which other words are kept.

**Positive pointwise mutual information** (Church and Hanks, 1990; SLP3 ch. 6). With
:math:`C_{wc}` the counts and :math:`S = \sum_{w,c} C_{wc}`,

.. math::

    \mathrm{PMI}(w, c) = \ln \frac{P(w, c)}{P(w)\, P_\alpha(c)}, \qquad
    P(w, c) = \frac{C_{wc}}{S}, \quad P(w) = \frac{\sum_c C_{wc}}{S}, \quad
    P_\alpha(c) = \frac{(\sum_w C_{wc})^\alpha}{\sum_{c'} (\sum_w C_{wc'})^\alpha},

and :math:`\mathrm{PPMI} = \max(\mathrm{PMI}, 0)`, with :math:`\mathrm{PPMI} = 0` where
:math:`C_{wc} = 0`. :math:`\alpha = 1` is plain PPMI; :math:`\alpha = 0.75`, *context
distribution smoothing* (Levy, Goldberg and Dagan, 2015), raises the probability of rare
contexts and so lowers the PMI that a rare context can reach.

**Uncertainty.** A correlation with human ratings measured on a few hundred pairs is noisy.
:func:`pair_bootstrap` and :func:`document_bootstrap` recompute it on resamples drawn with
replacement (Efron and Tibshirani, 1993): of the pairs when pairs are independent (word
benchmarks), of the documents when pairs share documents (the Lee benchmark). Percentiles of the
resampled values, or of the paired differences between two models, give bootstrap intervals.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from ._checks import check_array, check_choice, check_float, check_int

__all__ = [
    "TOKEN_PATTERN", "english_stop_words", "tokenize", "CountVectorizer", "TfidfVectorizer",
    "idf_weights", "tfidf_weight", "normalize_rows", "cosine_similarity", "nearest_documents",
    "similarity_correlation", "ngrams", "cooccurrence", "ppmi", "word_pair_cosines",
    "pair_bootstrap", "document_bootstrap",
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


def _check_ngram_range(ngram_range) -> tuple[int, int]:
    if isinstance(ngram_range, (str, bytes)) or not isinstance(ngram_range, Sequence) \
            or len(ngram_range) != 2:
        raise TypeError(f"ngram_range must be a pair (min_n, max_n) of integers, got "
                        f"{ngram_range!r}")
    lo = check_int("ngram_range[0]", ngram_range[0], minimum=1)
    hi = check_int("ngram_range[1]", ngram_range[1], minimum=1)
    if lo > hi:
        raise ValueError(f"ngram_range must have min_n <= max_n, got {tuple(ngram_range)!r}")
    return lo, hi


def _ngrams(tokens: list[str], lo: int, hi: int) -> list[str]:
    if hi == 1:
        return tokens
    out = list(tokens) if lo == 1 else []
    n_tokens = len(tokens)
    for n in range(max(lo, 2), min(hi, n_tokens) + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(n_tokens - n + 1))
    return out


def ngrams(tokens, ngram_range=(1, 2)) -> list[str]:
    """All runs of ``n`` consecutive tokens for ``n`` in ``ngram_range`` (inclusive), joined by a
    space: first the 1-grams (if asked), then the 2-grams, and so on, each in text order."""
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a list of strings, got {type(tokens).__name__}")
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise TypeError(f"tokens must hold strings, got {bad[0]!r}")
    return _ngrams(list(tokens), *_check_ngram_range(ngram_range))


def _analyzer(lowercase: bool, stop_words: frozenset[str] | None, pattern: re.Pattern,
              ngram_range: tuple[int, int] = (1, 1)):
    findall = pattern.findall

    def words(doc: str) -> list[str]:
        tokens = findall(doc.lower() if lowercase else doc)
        return tokens if stop_words is None else [t for t in tokens if t not in stop_words]

    if ngram_range == (1, 1):
        return words
    lo, hi = ngram_range
    return lambda doc: _ngrams(words(doc), lo, hi)


def tokenize(doc: str, *, lowercase: bool = True, stop_words=None,
             token_pattern: str = TOKEN_PATTERN, ngram_range=(1, 1)) -> list[str]:
    """The tokens of one document, in order.

    ``lowercase`` lower-cases the text first; ``stop_words`` is ``None``, ``"english"`` or a list
    of words to drop (compared after lower-casing, if any); ``token_pattern`` is the regular
    expression of one token; ``ngram_range=(lo, hi)`` adds the n-grams of the remaining tokens
    (see :func:`ngrams`).
    """
    if not isinstance(doc, str):
        raise TypeError(f"doc must be a string, got {type(doc).__name__}")
    analyze = _analyzer(_check_bool("lowercase", lowercase), _resolve_stop_words(stop_words),
                        _compile(token_pattern), _check_ngram_range(ngram_range))
    return analyze(doc)


class CountVectorizer:
    """Documents to a sparse count matrix over an alphabetically sorted vocabulary.

    Parameters are those of :func:`tokenize`. After :meth:`fit`: ``vocabulary_`` (term ->
    column) and :meth:`get_feature_names_out` (the terms in column order). Terms unseen at fit
    time are ignored by :meth:`transform`.
    """

    def __init__(self, *, lowercase: bool = True, stop_words=None,
                 token_pattern: str = TOKEN_PATTERN, ngram_range=(1, 1)):
        self.lowercase = _check_bool("lowercase", lowercase)
        self.stop_words = stop_words
        self._stop = _resolve_stop_words(stop_words)
        self.token_pattern = token_pattern
        self._pattern = _compile(token_pattern)
        self.ngram_range = _check_ngram_range(ngram_range)
        self.vocabulary_: dict[str, int] | None = None

    def build_analyzer(self):
        """The function ``str -> list of tokens`` that this vectorizer applies to a document."""
        return _analyzer(self.lowercase, self._stop, self._pattern, self.ngram_range)

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
                 token_pattern: str = TOKEN_PATTERN, ngram_range=(1, 1), smooth_idf: bool = True,
                 sublinear_tf: bool = False, norm: str | None = "l2"):
        super().__init__(lowercase=lowercase, stop_words=stop_words, token_pattern=token_pattern,
                         ngram_range=ngram_range)
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


# --------------------------------------------------------------------------- word-word counts

def _check_token_lists(token_lists) -> list[Sequence[str]]:
    if isinstance(token_lists, (str, bytes)) or not isinstance(token_lists, Iterable):
        raise TypeError(f"token_lists must be a list of token lists, got "
                        f"{type(token_lists).__name__}")
    out = []
    for i, tokens in enumerate(token_lists):
        if isinstance(tokens, (str, bytes)):
            raise TypeError(f"token_lists[{i}] is a string, but token_lists must hold lists of "
                            "tokens; wrap a single token list in a list: [tokens]")
        if not isinstance(tokens, Sequence):
            raise TypeError(f"token_lists[{i}] must be a list of strings, got "
                            f"{type(tokens).__name__}")
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"token_lists[{i}] must hold strings, got {tok!r}")
        out.append(tokens)
    return out


def cooccurrence(token_lists, *, window: int = 2, vocabulary=None,
                 min_count: int = 1) -> tuple[sp.csr_matrix, list[str]]:
    """Symmetric word-word co-occurrence counts within ``window`` tokens (module docstring).

    ``token_lists`` is a list of token lists (sentences or documents); a window never crosses
    from one list into the next. Returns ``(C, vocab)``: ``C`` a ``(V, V)`` integer
    ``csr_matrix``, and ``vocab`` the words of its rows and columns. Given ``vocabulary``, those
    are exactly its words in its order (``min_count`` is then not used); otherwise the words seen
    at least ``min_count`` times, most frequent first, ties in alphabetical order.
    """
    token_lists = _check_token_lists(token_lists)
    window = check_int("window", window, minimum=1)
    min_count = check_int("min_count", min_count, minimum=1)
    if vocabulary is None:
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        vocab = sorted((w for w, c in counts.items() if c >= min_count),
                       key=lambda w: (-counts[w], w))
        if not vocab:
            raise ValueError(f"no word occurs at least min_count={min_count} times: the "
                             "vocabulary is empty")
    else:
        if isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, Iterable):
            raise TypeError(f"vocabulary must be a list of words, got "
                            f"{type(vocabulary).__name__}")
        vocab = list(vocabulary)
        bad = [w for w in vocab if not isinstance(w, str)]
        if bad:
            raise TypeError(f"vocabulary must hold strings, got {bad[0]!r}")
        if not vocab:
            raise ValueError("vocabulary is empty: give at least one word")
        if len(set(vocab)) != len(vocab):
            twice = next(w for w, c in Counter(vocab).items() if c > 1)
            raise ValueError(f"vocabulary must not repeat words, {twice!r} appears twice")
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)
    # One stream of word ids (-1: not in the vocabulary) and the list each position belongs to.
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    n = int(lengths.sum())
    ids = np.fromiter((index.get(t, -1) for tokens in token_lists for t in tokens),
                      dtype=np.int64, count=n)
    which = np.repeat(np.arange(len(token_lists)), lengths)
    upper = sp.csr_matrix((V, V), dtype=np.int64)
    for d in range(1, min(window, max(n - 1, 0)) + 1):
        a, b = ids[:-d], ids[d:]
        keep = (a >= 0) & (b >= 0) & (which[:-d] == which[d:])
        pairs = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int64), (a[keep], b[keep])),
                              shape=(V, V))
        upper = upper + pairs  # csr construction from coordinates adds duplicates
    C = (upper + upper.T).tocsr()
    C.sort_indices()
    return C, vocab


def ppmi(C, *, alpha: float = 0.75) -> sp.csr_matrix:
    """Positive pointwise mutual information of a count matrix (rows: words, columns: contexts).

    ``alpha`` is the exponent of context-distribution smoothing (Levy, Goldberg and Dagan,
    2015); ``alpha=1`` gives plain PPMI. Natural logarithm. Entries with a zero count stay zero,
    so the result is as sparse as ``C`` or sparser. Returns a float ``csr_matrix``.
    """
    alpha = check_float("alpha", alpha, minimum=0.0, strict_min=True)
    if sp.issparse(C):
        if C.ndim != 2:
            raise ValueError(f"C must be 2-D, got {C.ndim}-D")
        C = sp.csr_matrix(C, dtype=np.float64, copy=True)
        if C.data.size and not np.all(np.isfinite(C.data)):
            raise ValueError("C contains NaN or infinite values")
    else:
        C = sp.csr_matrix(check_array("C", C, ndim=2))
    if C.data.size and C.data.min() < 0:
        raise ValueError("C must hold non-negative counts")
    C.eliminate_zeros()
    total = C.data.sum()
    if total == 0:
        raise ValueError("C is all zeros: PMI needs at least one co-occurrence")
    row_sums = np.asarray(C.sum(axis=1)).ravel()
    col_sums = np.asarray(C.sum(axis=0)).ravel()
    p_word = row_sums / total
    smoothed = col_sums ** alpha
    p_context = smoothed / smoothed.sum()
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    pmi = np.log(C.data / total) - np.log(p_word[rows]) - np.log(p_context[C.indices])
    C.data = np.maximum(pmi, 0.0)
    C.eliminate_zeros()
    return C


def word_pair_cosines(X, vocab, pairs) -> np.ndarray:
    """Cosine similarity of the rows of ``X`` for each ``(word, word, ...)`` item of ``pairs``.

    ``vocab`` names the rows of ``X`` (dense or sparse). Words are looked up as given, then in
    lower case. A pair with a word outside ``vocab`` gets NaN, so that the caller decides how to
    count it; a row of zeros has cosine 0 with everything.
    """
    X = _as_matrix("X", X)
    if isinstance(vocab, (str, bytes)) or not isinstance(vocab, Iterable):
        raise TypeError(f"vocab must be a list of words, got {type(vocab).__name__}")
    vocab = list(vocab)
    if len(vocab) != X.shape[0]:
        raise ValueError(f"vocab has {len(vocab)} words for {X.shape[0]} rows of X")
    index = {w: i for i, w in enumerate(vocab)}
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"pairs must be a list of (word, word, ...) tuples, got "
                        f"{type(pairs).__name__}")
    a_idx, b_idx = [], []
    for i, item in enumerate(pairs):
        if not isinstance(item, Sequence) or len(item) < 2 or not isinstance(item[0], str) \
                or not isinstance(item[1], str):
            raise TypeError(f"pairs[{i}] must start with two words, got {item!r}")
        a_idx.append(index.get(item[0], index.get(item[0].lower(), -1)))
        b_idx.append(index.get(item[1], index.get(item[1].lower(), -1)))
    a_idx, b_idx = np.array(a_idx, dtype=np.int64), np.array(b_idx, dtype=np.int64)
    out = np.full(len(a_idx), np.nan)
    known = (a_idx >= 0) & (b_idx >= 0)
    if known.any():
        # Normalise only the rows that the pairs use.
        rows, where = np.unique(np.concatenate([a_idx[known], b_idx[known]]), return_inverse=True)
        Xn = normalize_rows(X[rows], "l2")
        n_known = int(known.sum())
        A, B = Xn[where[:n_known]], Xn[where[n_known:]]
        dots = A.multiply(B).sum(axis=1) if sp.issparse(A) else (A * B).sum(axis=1)
        out[known] = np.asarray(dots).ravel()
    return out


# --------------------------------------------------------------------------- uncertainty

def _row_correlations(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Correlation along the last axis of x with y (y broadcasts against x, and is ranked once
    for all the models that share it). Spearman is Pearson's correlation of average ranks."""
    if method == "spearman":
        from scipy.stats import rankdata

        x, y = rankdata(x, axis=-1), rankdata(y, axis=-1)
    y = np.broadcast_to(y, x.shape)
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    denom = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=-1) / denom, np.nan)


def pair_bootstrap(model_scores, gold, *, method: str = "spearman", n_boot: int = 1000,
                   seed: int = 0) -> np.ndarray:
    """Correlations of model scores with gold scores on ``n_boot`` resamples of the pairs.

    ``model_scores`` is 1-D (one model) or 2-D (one row per model, one column per pair); every
    model is scored on the same resamples, so differences between rows are paired. Each
    resample draws as many pairs as there are, with replacement (row ``b`` of
    ``rng.integers(0, n_pairs, size=(n_boot, n_pairs))``). Returns an ``(n_models, n_boot)``
    array (NaN where a resample is constant). Percentiles of a row, or of the
    difference of two rows, give a bootstrap interval (Efron and Tibshirani, 1993).
    """
    scores = check_array("model_scores", model_scores, ndim=(1, 2))
    scores = scores[None, :] if scores.ndim == 1 else scores
    gold = check_array("gold", gold, ndim=1)
    if scores.shape[1] != gold.shape[0]:
        raise ValueError(f"model_scores has {scores.shape[1]} pairs and gold has "
                         f"{gold.shape[0]}: they must match")
    if gold.shape[0] < 3:
        raise ValueError("need at least 3 pairs to resample a correlation")
    check_choice("method", method, ("pearson", "spearman"))
    n_boot = check_int("n_boot", n_boot, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    n = gold.shape[0]
    takes = rng.integers(0, n, size=(n_boot, n))   # row b: the pairs of resample b
    out = np.empty((scores.shape[0], n_boot))
    chunk = max(1, 2_000_000 // (scores.shape[0] * n))  # resamples scored in one NumPy call
    for start in range(0, n_boot, chunk):
        take = takes[start:start + chunk]
        x = scores[:, take]                           # (models, resamples, pairs)
        out[:, start:start + chunk] = _row_correlations(x, gold[take], method)
    return out


def document_bootstrap(model_sims, human_sims, *, method: str = "pearson", n_boot: int = 1000,
                       seed: int = 0) -> np.ndarray:
    """Pair correlations (as :func:`similarity_correlation`) on ``n_boot`` resamples of documents.

    Pairs that share a document are not independent, so the resampled unit is the document:
    each resample draws ``n`` documents with replacement and scores all pairs of two different
    draws. ``model_sims`` is one square matrix or a list of them (paired across models).
    Returns an ``(n_models, n_boot)`` array.
    """
    mats = [model_sims] if not isinstance(model_sims, (list, tuple)) else list(model_sims)
    if not mats:
        raise ValueError("model_sims is an empty list")
    human = check_array("human_sims", human_sims, ndim=2)
    n = human.shape[0]
    if human.shape != (n, n) or n < 3:
        raise ValueError(f"human_sims must be square with at least 3 documents, got "
                         f"{human.shape}")
    mats = [check_array(f"model_sims[{i}]", m, ndim=2) for i, m in enumerate(mats)]
    for i, m in enumerate(mats):
        if m.shape != human.shape:
            raise ValueError(f"model_sims[{i}] has shape {m.shape}, human_sims {human.shape}: "
                             "they must match")
    check_choice("method", method, ("pearson", "spearman"))
    n_boot = check_int("n_boot", n_boot, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    iu, ju = np.triu_indices(n, k=1)
    stack = np.stack(mats)
    out = np.empty((len(mats), n_boot))
    for b in range(n_boot):
        draw = rng.integers(0, n, size=n)
        r, c = draw[iu], draw[ju]
        keep = r != c
        r, c = r[keep], c[keep]
        out[:, b] = _row_correlations(stack[:, r, c], human[r, c], method)
    return out
