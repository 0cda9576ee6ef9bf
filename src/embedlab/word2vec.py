r"""Word2Vec: skip-gram and CBOW with negative sampling, in vectorised NumPy.

Word2Vec (Mikolov et al., 2013a; 2013b) learns two vectors per vocabulary word: an *input*
vector :math:`v_w` (the row of the embedding we keep) and an *output* vector :math:`u_w`. It
turns co-occurrence into a prediction task: from a hidden vector :math:`h` built from the
input side, tell the word that really occurs (label 1) from :math:`k` words drawn at random
(label 0).

* **Skip-gram**: one example per (center, context) pair inside the window, with
  :math:`h = v_{\text{center}}` and the context word as the positive target.
* **CBOW** (continuous bag of words): one example per center word, with :math:`h` the mean of
  the input vectors of its context words and the center word as the positive target.

Negative-sampling loss of one example with positive target :math:`o` and negatives
:math:`n_1, \dots, n_k` (Mikolov et al., 2013b), with :math:`\sigma(x) = 1 / (1 + e^{-x})`:

.. math::

    \ell = -\log \sigma(u_o^\top h) - \sum_{j=1}^{k} \log \sigma(-u_{n_j}^\top h).

Writing :math:`s_t = u_t^\top h` and :math:`y_t \in \{0, 1\}` for the label of target :math:`t`,
the gradients are

.. math::

    \frac{\partial \ell}{\partial u_t} = (\sigma(s_t) - y_t)\, h, \qquad
    \frac{\partial \ell}{\partial h} = \sum_t (\sigma(s_t) - y_t)\, u_t .

Ingredients, as in the reference C implementation and gensim:

* **Vocabulary**: words seen fewer than ``min_count`` times are dropped before training,
  sorted by descending frequency.
* **Negative sampling table**: negatives are drawn from the unigram distribution raised to
  the power 3/4, :math:`P(w) \propto c_w^{0.75}` (Mikolov et al., 2013b), which samples rare
  words more often than their frequency would.
* **Subsampling of frequent words**: with threshold :math:`t` (``sample``) and corpus size
  :math:`N`, an occurrence of a word seen :math:`c_w` times is kept with probability
  :math:`\min\bigl(1, (\sqrt{c_w / (tN)} + 1)\, tN / c_w\bigr)`. This is the formula of the C
  code and gensim, a variant of the discard probability :math:`1 - \sqrt{t / f_w}` given in
  Mikolov et al. (2013b).
* **Dynamic window**: for each center the window radius is drawn uniformly from
  :math:`1..\text{window}`, so near words count more often than far ones.
* **Learning rate** decays linearly from ``alpha`` to ``min_alpha`` over all epochs.

What is different here: instead of updating the vectors after every pair, the code takes a
minibatch of consecutive center words, computes every score of the batch with one batched
product, and adds the summed updates with a sparse matrix product (which adds the rows of
repeated words correctly and quickly). For CBOW it adds the gradient with respect to
:math:`h` to every context vector, unscaled, as the C code and gensim (``cbow_mean=1``) do.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.special import expit

from ._checks import check_array, check_choice, check_float, check_int, check_seed

__all__ = [
    "Vocabulary", "build_vocab", "keep_probabilities", "unigram_table", "chunk_tokens",
    "sgns_loss_and_grads", "Word2Vec", "WordVectors", "PairScore", "AnalogyScore",
    "evaluate_word_pairs", "evaluate_analogies", "make_topic_corpus",
]


# --------------------------------------------------------------------------- corpus helpers

def _check_sentences(sentences) -> list[list[str]]:
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError(f"sentences must be an iterable of token lists, got "
                        f"{type(sentences).__name__}")
    out = []
    for i, sent in enumerate(sentences):
        if isinstance(sent, (str, bytes)) or not isinstance(sent, Sequence):
            raise TypeError(f"sentences must hold lists of tokens, item {i} is a "
                            f"{type(sent).__name__} (split a flat token list with chunk_tokens)")
        for tok in sent:
            if not isinstance(tok, str):
                raise TypeError(f"tokens must be strings, sentence {i} holds a "
                                f"{type(tok).__name__}")
        out.append(sent)
    if not any(out):
        raise ValueError("sentences holds no tokens")
    return out


def chunk_tokens(tokens: Sequence[str], size: int = 1000) -> list[list[str]]:
    """Split a flat list of tokens into "sentences" of at most ``size`` tokens.

    gensim ignores everything after the first 10,000 tokens of a sentence, so a long stream
    such as the text8 head must be cut into pieces before either implementation trains on it.
    """
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a list of strings, got {type(tokens).__name__}")
    size = check_int("size", size, minimum=1)
    return [list(tokens[i:i + size]) for i in range(0, len(tokens), size)]


@dataclass(frozen=True)
class Vocabulary:
    """Words sorted by descending count, their counts and the word -> row index map."""

    words: list[str]
    counts: np.ndarray
    index: dict[str, int]
    n_tokens: int  # all tokens of the corpus, in the vocabulary or not

    def __len__(self) -> int:
        return len(self.words)


def build_vocab(sentences, min_count: int = 5) -> Vocabulary:
    """Count the words of ``sentences`` and keep those seen at least ``min_count`` times.

    Ties in count keep the order of first appearance.
    """
    sentences = _check_sentences(sentences)
    min_count = check_int("min_count", min_count, minimum=1)
    counter: Counter[str] = Counter()
    for sent in sentences:
        counter.update(sent)
    kept = [(w, c) for w, c in counter.items() if c >= min_count]  # insertion order = first seen
    if not kept:
        raise ValueError(f"no word occurs min_count={min_count} times; lower min_count")
    kept.sort(key=lambda wc: -wc[1])  # stable sort keeps first-appearance order among ties
    words = [w for w, _ in kept]
    counts = np.array([c for _, c in kept], dtype=np.int64)
    return Vocabulary(words, counts, {w: i for i, w in enumerate(words)},
                      int(sum(counter.values())))


def keep_probabilities(counts, sample: float) -> np.ndarray:
    """Probability of keeping one occurrence of each word under subsampling (see module doc).

    ``sample=0`` disables subsampling (every probability is 1).
    """
    counts = check_array("counts", counts, ndim=1, min_rows=1)
    if np.any(counts <= 0):
        raise ValueError("counts must be positive")
    sample = check_float("sample", sample, minimum=0.0, strict_max=True, maximum=1.0)
    if sample == 0.0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


def unigram_table(counts, exponent: float = 0.75, size: int = 1_000_000) -> np.ndarray:
    """A table of word ids in which word ``w`` fills a share ``c_w^exponent / sum`` of the slots.

    Drawing a uniform slot of the table draws a word from the smoothed unigram distribution,
    in O(1) per draw (the trick of the C implementation).
    """
    counts = check_array("counts", counts, ndim=1, min_rows=1)
    if np.any(counts <= 0):
        raise ValueError("counts must be positive")
    exponent = check_float("exponent", exponent)
    size = check_int("size", size, minimum=len(counts))
    p = counts ** exponent
    edges = np.round(np.cumsum(p) / p.sum() * size).astype(np.int64)
    reps = np.diff(np.concatenate([[0], edges]))
    return np.repeat(np.arange(len(counts), dtype=np.int32), reps)


def sgns_loss_and_grads(h, out, labels):
    """Negative-sampling loss of a batch and its gradients (formulas in the module docstring).

    Parameters
    ----------
    h : (B, d) hidden vectors (input vector of the center word, or mean of the context).
    out : (B, T, d) output vectors of the T targets of each example.
    labels : (B, T) 1 for the true target, 0 for the negatives.

    Returns ``(loss, grad_h, grad_out)``: the summed loss, and arrays shaped like ``h`` and
    ``out``.
    """
    h = check_array("h", h, ndim=2)
    out = check_array("out", out, ndim=3)
    labels = check_array("labels", labels, ndim=2)
    if out.shape[0] != h.shape[0] or out.shape[2] != h.shape[1]:
        raise ValueError(f"out must have shape (B, T, d) = ({h.shape[0]}, T, {h.shape[1]}), "
                         f"got {out.shape}")
    if labels.shape != out.shape[:2]:
        raise ValueError(f"labels must have shape {out.shape[:2]}, got {labels.shape}")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1")
    scores = np.einsum("bd,btd->bt", h, out)
    sign = 2.0 * labels - 1.0
    loss = float(np.logaddexp(0.0, -sign * scores).sum())  # -log sigma(sign * s)
    err = 1.0 / (1.0 + np.exp(-scores)) - labels  # sigma(s) - y
    grad_h = np.einsum("bt,btd->bd", err, out)
    grad_out = err[:, :, None] * h[:, None, :]
    return loss, grad_h, grad_out


def _scatter_add(matrix: np.ndarray, rows: np.ndarray, indptr: np.ndarray, weights: np.ndarray,
                 values: np.ndarray) -> None:
    """Add ``weights[i] * values[j]`` to ``matrix[rows[i]]`` for every entry i of group j.

    Group j is the slice ``indptr[j]:indptr[j + 1]`` of ``rows`` and ``weights`` (a CSC
    layout). Repeated rows add up. The sum is one sparse-dense product, much faster than
    ``np.add.at``; when the batch touches many rows it is added to the whole matrix.
    """
    if len(rows) * 4 >= len(matrix):
        mix = sp.csc_matrix((weights, rows, indptr), shape=(len(matrix), len(values)))
        matrix += mix @ values
    else:
        present = np.zeros(len(matrix), dtype=bool)
        present[rows] = True
        uniq = np.flatnonzero(present)
        local = (np.cumsum(present) - 1)[rows]
        mix = sp.csc_matrix((weights, local, indptr), shape=(len(uniq), len(values)))
        matrix[uniq] += mix @ values


# --------------------------------------------------------------------------- the model

@dataclass
class Word2Vec:
    """Skip-gram or CBOW with negative sampling (see the module docstring).

    Parameters
    ----------
    vector_size : dimension d of the word vectors.
    mode : ``"skipgram"`` or ``"cbow"``.
    window : largest window radius (the radius of each center is drawn from 1..window).
    min_count : words seen fewer times are dropped.
    negative : number k of negative samples per example.
    ns_exponent : exponent of the unigram distribution of the negatives.
    sample : subsampling threshold t (0 disables it).
    alpha, min_alpha : initial and final learning rate (linear decay).
    epochs : passes over the corpus.
    batch_size : center words per minibatch update; ``None`` means 256 for skip-gram (about
        1,500 pairs) and 1,024 for CBOW (one example per center).
    seed : seed of initialisation, subsampling, windows and negatives.
    progress : show a progress bar.

    After :meth:`fit`: ``wv`` (a :class:`WordVectors` of the input vectors), ``vocab``,
    ``loss_history_`` (mean loss per example, per epoch), ``train_seconds_`` (wall clock of
    the training, vocabulary counting excluded), ``train_cpu_seconds_`` (CPU time of the same)
    and ``words_per_second_`` (corpus tokens times epochs over ``train_seconds_``).
    """

    vector_size: int = 100
    mode: str = "skipgram"
    window: int = 5
    min_count: int = 5
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 1e-4
    epochs: int = 5
    batch_size: int | None = None
    seed: int | None = 0
    progress: bool = True
    wv: "WordVectors | None" = field(default=None, init=False, repr=False)
    vocab: Vocabulary | None = field(default=None, init=False, repr=False)
    loss_history_: list[float] = field(default_factory=list, init=False, repr=False)
    train_seconds_: float = field(default=0.0, init=False, repr=False)
    train_cpu_seconds_: float = field(default=0.0, init=False, repr=False)
    words_per_second_: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self):
        self.vector_size = check_int("vector_size", self.vector_size, minimum=1)
        check_choice("mode", self.mode, ("skipgram", "cbow"))
        self.window = check_int("window", self.window, minimum=1)
        self.min_count = check_int("min_count", self.min_count, minimum=1)
        self.negative = check_int("negative", self.negative, minimum=1)
        self.ns_exponent = check_float("ns_exponent", self.ns_exponent)
        self.sample = check_float("sample", self.sample, minimum=0.0, maximum=1.0, strict_max=True)
        self.alpha = check_float("alpha", self.alpha, minimum=0.0, strict_min=True)
        self.min_alpha = check_float("min_alpha", self.min_alpha, minimum=0.0)
        if self.min_alpha > self.alpha:
            raise ValueError(f"min_alpha must be <= alpha={self.alpha}, got {self.min_alpha}")
        self.epochs = check_int("epochs", self.epochs, minimum=1)
        if self.batch_size is None:
            self.batch_size = 256 if self.mode == "skipgram" else 1024
        self.batch_size = check_int("batch_size", self.batch_size, minimum=1)
        self.seed = check_seed("seed", self.seed)
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be True or False, got {self.progress!r}")

    # -- training -----------------------------------------------------------------------
    def fit(self, sentences) -> "Word2Vec":
        """Build the vocabulary of ``sentences`` (lists of tokens) and train; returns ``self``."""
        from tqdm.auto import tqdm

        sentences = _check_sentences(sentences)
        vocab = build_vocab(sentences, self.min_count)
        rng = np.random.default_rng(self.seed)
        V, d, k = len(vocab), self.vector_size, self.negative
        start, start_cpu = time.perf_counter(), time.process_time()  # training, without counting
        # Corpus as one id stream (out-of-vocabulary tokens removed) and the sentence of each.
        ids = [np.array([vocab.index[w] for w in s if w in vocab.index], dtype=np.int32)
               for s in sentences]
        stream = np.concatenate(ids)
        sent_of = np.repeat(np.arange(len(ids), dtype=np.int32), [len(a) for a in ids])
        keep_p = keep_probabilities(vocab.counts, self.sample)
        table = unigram_table(vocab.counts, self.ns_exponent)
        w_in = ((rng.random((V, d), dtype=np.float32) - 0.5) / d).astype(np.float32)
        w_out = np.zeros((V, d), dtype=np.float32)
        offsets = np.concatenate([np.arange(-self.window, 0), np.arange(1, self.window + 1)])
        total = self.epochs * len(stream)
        done = 0
        self.loss_history_ = []
        bar = tqdm(total=total, disable=not self.progress, unit="word",
                   desc=f"word2vec {self.mode}")
        for _ in range(self.epochs):
            keep = rng.random(len(stream)) < keep_p[stream]
            words, sents = stream[keep], sent_of[keep]
            n = len(words)
            radius = rng.integers(1, self.window + 1, size=n)
            pos = np.arange(n)[:, None] + offsets[None, :]
            ok = (np.abs(offsets)[None, :] <= radius[:, None]) & (pos >= 0) & (pos < n)
            ok[ok] = sents[pos[ok]] == np.repeat(sents, ok.sum(axis=1))
            center_pos, slot = np.nonzero(ok)  # row-major: grouped by center, in text order
            context = words[center_pos + offsets[slot]]
            bounds = np.searchsorted(center_pos, np.arange(0, n + self.batch_size,
                                                           self.batch_size))
            epoch_loss, epoch_examples = 0.0, 0
            for b in range(len(bounds) - 1):
                p0, p1 = bounds[b], bounds[b + 1]
                c0 = b * self.batch_size
                c1 = min(c0 + self.batch_size, n)
                if c1 <= c0:
                    break
                lr = self.alpha - (self.alpha - self.min_alpha) * done / total
                if p1 > p0:
                    if self.mode == "skipgram":
                        loss, m = self._step_skipgram(w_in, w_out, words[center_pos[p0:p1]],
                                                      context[p0:p1], table, rng, k, lr)
                    else:
                        loss, m = self._step_cbow(w_in, w_out, words[c0:c1],
                                                  center_pos[p0:p1] - c0, context[p0:p1],
                                                  table, rng, k, lr)
                    epoch_loss += loss
                    epoch_examples += m
                # progress in corpus words (subsampled words count as processed)
                step = round((c1 - c0) * len(stream) / max(n, 1))
                done += step
                bar.update(step)
            self.loss_history_.append(epoch_loss / max(epoch_examples, 1))
        bar.close()
        self.train_seconds_ = time.perf_counter() - start
        self.train_cpu_seconds_ = time.process_time() - start_cpu
        self.words_per_second_ = self.epochs * vocab.n_tokens / self.train_seconds_
        self.vocab = vocab
        self.wv = WordVectors(vocab.words, w_in, counts=vocab.counts)
        return self

    @staticmethod
    def _targets(positive, table, rng, k):
        neg = table[rng.integers(0, len(table), size=(len(positive), k))]
        targets = np.concatenate([positive[:, None], neg], axis=1)
        labels = np.zeros(targets.shape, dtype=np.float32)
        labels[:, 0] = 1.0
        live = np.ones(targets.shape, dtype=np.float32)
        live[:, 1:] = neg != positive[:, None]  # a negative equal to the target is skipped
        return targets, labels, live

    @staticmethod
    def _output_step(h, w_out, targets, labels, live, lr):
        """Scores, loss and the update of the output vectors; returns (loss, delta_h).

        ``delta_h`` is minus the learning rate times the gradient of the loss w.r.t. ``h``.
        """
        o = np.take(w_out, targets, axis=0)  # (B, T, d)
        scores = np.matmul(o, h[:, :, None])[:, :, 0]
        loss = float((np.logaddexp(0.0, (1.0 - 2.0 * labels) * scores) * live).sum())
        g = (labels - expit(scores)) * live * np.float32(lr)  # -lr * d loss / d score
        delta_h = np.matmul(g[:, None, :], o)[:, 0, :]
        B, T = targets.shape
        _scatter_add(w_out, targets.ravel(), np.arange(0, B * T + 1, T), g.ravel(), h)
        return loss, delta_h

    def _step_skipgram(self, w_in, w_out, centers, contexts, table, rng, k, lr):
        h = np.take(w_in, centers, axis=0)
        targets, labels, live = self._targets(contexts, table, rng, k)
        loss, delta_h = self._output_step(h, w_out, targets, labels, live, lr)
        _scatter_add(w_in, centers, np.arange(len(centers) + 1),
                     np.ones(len(centers), np.float32), delta_h)
        return loss, len(centers)

    def _step_cbow(self, w_in, w_out, centers, owner, contexts, table, rng, k, lr):
        n_ctx = np.bincount(owner, minlength=len(centers))
        has = n_ctx > 0
        centers, n_ctx = centers[has], n_ctx[has]  # owner is sorted: groups stay contiguous
        indptr = np.concatenate([[0], np.cumsum(n_ctx)])
        ones = np.ones(len(contexts), np.float32)
        # h = mean of the input vectors of each center's context words
        mean_mix = sp.csr_matrix(((1.0 / np.repeat(n_ctx, n_ctx)).astype(np.float32), contexts,
                                  indptr), shape=(len(centers), len(w_in)))
        h = mean_mix @ w_in
        targets, labels, live = self._targets(centers, table, rng, k)
        loss, delta_h = self._output_step(h, w_out, targets, labels, live, lr)
        _scatter_add(w_in, contexts, indptr, ones, delta_h)
        return loss, len(centers)


# --------------------------------------------------------------------------- word vectors

class WordVectors:
    """Word vectors with look-up, cosine similarity, nearest neighbours and analogies.

    Rows follow ``keys`` (most frequent first when they come from :class:`Word2Vec`).
    """

    def __init__(self, keys: Iterable[str], vectors, *, counts=None):
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise TypeError(f"keys must be an iterable of words, got {type(keys).__name__}")
        keys = list(keys)
        if not keys:
            raise ValueError("keys is empty")
        for i, key in enumerate(keys):
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, item {i} is a {type(key).__name__}")
        vectors = check_array("vectors", vectors, ndim=2)
        if vectors.shape[0] != len(keys):
            raise ValueError(f"vectors has {vectors.shape[0]} rows for {len(keys)} keys")
        self.index_to_key = keys
        self.key_to_index = {}
        for i, key in enumerate(keys):
            if key in self.key_to_index:
                raise ValueError(f"keys must be unique, {key!r} appears twice")
            self.key_to_index[key] = i
        self.vectors = vectors.astype(np.float32)
        self.counts = None if counts is None else check_array("counts", counts, ndim=1)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.where(norms > 0, norms, 1.0)

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word) -> bool:
        return word in self.key_to_index

    def get_index(self, word: str) -> int:
        """Row of ``word``; a ``KeyError`` says that it has no vector."""
        if not isinstance(word, str):
            raise TypeError(f"word must be a string, got {type(word).__name__}")
        try:
            return self.key_to_index[word]
        except KeyError:
            raise KeyError(f"{word!r} is out of vocabulary: it has no vector (the model knows "
                           f"{len(self)} words)") from None

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.get_index(word)]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.get_index(a)] @ self.unit[self.get_index(b)])

    def most_similar(self, positive=(), negative=(), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words nearest (by cosine) to the mean of unit vectors of ``positive`` minus ``negative``.

        The query words themselves are left out, as in gensim. ``restrict_vocab`` searches
        only the first rows (the most frequent words).
        """
        if isinstance(positive, str):
            positive = [positive]
        if isinstance(negative, str):
            negative = [negative]
        positive, negative = list(positive), list(negative)
        if not positive and not negative:
            raise ValueError("give at least one word in positive or negative")
        topn = check_int("topn", topn, minimum=1)
        limit = len(self) if restrict_vocab is None else check_int(
            "restrict_vocab", restrict_vocab, minimum=1)
        used = [self.get_index(w) for w in positive + negative]
        query = self.unit[used[:len(positive)]].sum(axis=0) - self.unit[used[len(positive):]].sum(
            axis=0)
        return self._nearest(query, used, topn, limit)

    def _nearest(self, query, exclude, topn, limit):
        norm = np.linalg.norm(query)
        sims = self.unit[:limit] @ (query / norm if norm > 0 else query)
        sims[[i for i in exclude if i < limit]] = -np.inf
        top = min(topn, limit)
        best = np.argpartition(-sims, top - 1)[:top]
        best = best[np.argsort(-sims[best], kind="stable")]
        return [(self.index_to_key[i], float(sims[i])) for i in best if np.isfinite(sims[i])]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """Solve "a is to b as c is to ?" by the vector offset b - a + c (3CosAdd)."""
        return self.most_similar(positive=[b, c], negative=[a], topn=topn)

    def to_gensim(self):
        """The same vectors as a gensim ``KeyedVectors`` (for comparisons)."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.vector_size, dtype=np.float32)
        kv.add_vectors(self.index_to_key, self.vectors)
        return kv

    @classmethod
    def from_gensim(cls, kv) -> "WordVectors":
        """Wrap the vectors of a gensim ``KeyedVectors`` (or of a trained gensim model)."""
        kv = getattr(kv, "wv", kv)
        if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
            raise TypeError(f"expected a gensim KeyedVectors or Word2Vec, got {type(kv).__name__}")
        return cls(list(kv.index_to_key), np.asarray(kv.vectors))

    def _ok_vocab(self, restrict_vocab, case_insensitive):
        """Words usable in an evaluation -> row: the first restrict_vocab, optionally folded.

        With case folding, the first (most frequent) of several spellings wins, as in gensim.
        """
        restrict_vocab = check_int("restrict_vocab", restrict_vocab, minimum=1)
        if not isinstance(case_insensitive, bool):
            raise TypeError(f"case_insensitive must be True or False, got {case_insensitive!r}")
        fold = str.upper if case_insensitive else (lambda s: s)
        ok: dict[str, int] = {}
        for i, key in enumerate(self.index_to_key[:restrict_vocab]):
            ok.setdefault(fold(key), i)
        return ok, fold, min(restrict_vocab, len(self))


# --------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class PairScore:
    """Result of :func:`evaluate_word_pairs`."""

    spearman: float
    pearson: float
    n_pairs: int  # pairs scored (both words known)
    n_oov: int  # pairs skipped because a word is out of vocabulary

    @property
    def coverage(self) -> float:
        """Share of the pairs that could be scored."""
        return self.n_pairs / (self.n_pairs + self.n_oov)


@dataclass(frozen=True)
class AnalogyScore:
    """Result of :func:`evaluate_analogies`: ``sections`` maps name -> (correct, scored).

    "scored" counts the answered questions, plus the unknown ones with ``dummy4unknown``.
    """

    accuracy: float
    sections: dict[str, tuple[int, int]]
    n_correct: int
    n_answered: int  # questions whose four words are all known
    n_oov: int  # questions skipped because a word is out of vocabulary

    @property
    def coverage(self) -> float:
        """Share of the questions that could be answered."""
        return self.n_answered / max(self.n_answered + self.n_oov, 1)


def _check_wv(wv) -> WordVectors:
    if not isinstance(wv, WordVectors):
        raise TypeError(f"wv must be a WordVectors, got {type(wv).__name__} "
                        "(wrap gensim vectors with WordVectors.from_gensim)")
    return wv


def evaluate_word_pairs(wv: WordVectors, pairs, *, restrict_vocab: int = 300_000,
                        case_insensitive: bool = True, dummy4unknown: bool = False) -> PairScore:
    """Spearman (and Pearson) correlation of cosine similarity with human scores.

    ``pairs`` holds ``(word, word, score)`` triples (``embedlab.data.load_wordsim353()``).
    Pairs with a word outside the first ``restrict_vocab`` words are counted in ``n_oov`` and
    skipped, or, with ``dummy4unknown=True``, scored as similarity 0 (which penalises a small
    vocabulary). Same conventions as gensim's ``KeyedVectors.evaluate_word_pairs``.
    """
    wv = _check_wv(wv)
    if not isinstance(dummy4unknown, bool):
        raise TypeError(f"dummy4unknown must be True or False, got {dummy4unknown!r}")
    ok, fold, _ = wv._ok_vocab(restrict_vocab, case_insensitive)
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"pairs must be a list of (word, word, score), got {type(pairs).__name__}")
    gold, model, oov = [], [], 0
    for i, item in enumerate(pairs):
        if not isinstance(item, Sequence) or len(item) != 3 or not isinstance(item[0], str) \
                or not isinstance(item[1], str):
            raise TypeError(f"pairs[{i}] must be a (word, word, score) triple, got {item!r}")
        a, b, score = fold(item[0]), fold(item[1]), check_float(f"pairs[{i}] score", item[2])
        if a not in ok or b not in ok:
            oov += 1
            if dummy4unknown:
                gold.append(score)
                model.append(0.0)
            continue
        gold.append(score)
        model.append(float(wv.unit[ok[a]] @ wv.unit[ok[b]]))
    if len(gold) - (oov if dummy4unknown else 0) < 2:
        raise ValueError(f"only {len(gold) - (oov if dummy4unknown else 0)} pair(s) have both "
                         "words in the vocabulary; a correlation needs at least 2")
    return PairScore(float(stats.spearmanr(gold, model).statistic),
                     float(stats.pearsonr(gold, model).statistic),
                     len(gold) - (oov if dummy4unknown else 0), oov)


def evaluate_analogies(wv: WordVectors, sections, *, restrict_vocab: int = 300_000,
                       case_insensitive: bool = True, dummy4unknown: bool = False
                       ) -> AnalogyScore:
    """Accuracy on analogy questions "a : b :: c : d", per section and overall.

    ``sections`` maps a section name to ``(a, b, c, d)`` tuples
    (``embedlab.data.load_analogies()``). The answer is the word nearest to b - a + c among
    the first ``restrict_vocab`` words, leaving out a, b and c (3CosAdd). Questions with an
    unknown word are counted in ``n_oov`` and skipped, or, with ``dummy4unknown=True``, counted
    as wrong answers in the accuracies. Same conventions as gensim's
    ``KeyedVectors.evaluate_word_analogies``.
    """
    wv = _check_wv(wv)
    if not isinstance(dummy4unknown, bool):
        raise TypeError(f"dummy4unknown must be True or False, got {dummy4unknown!r}")
    ok, fold, limit = wv._ok_vocab(restrict_vocab, case_insensitive)
    if not isinstance(sections, dict):
        raise TypeError(f"sections must be a dict of name -> list of (a, b, c, d), got "
                        f"{type(sections).__name__}")
    unit = wv.unit[:limit]
    result, n_correct, n_answered, n_oov = {}, 0, 0, 0
    for name, questions in sections.items():
        known, unknown = [], 0
        for i, q in enumerate(questions):
            if not isinstance(q, Sequence) or len(q) != 4 or not all(isinstance(w, str) for w in q):
                raise TypeError(f"sections[{name!r}][{i}] must be four words, got {q!r}")
            q = tuple(fold(w) for w in q)
            if all(w in ok for w in q):
                known.append(q)
            else:
                unknown += 1
        correct = 0
        for start in range(0, len(known), 512):  # batches of questions, one matrix product each
            chunk = known[start:start + 512]
            idx = np.array([[ok[w] for w in q] for q in chunk])
            query = unit[idx[:, 1]] + unit[idx[:, 2]] - unit[idx[:, 0]]
            query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-30)
            sims = query @ unit.T
            np.put_along_axis(sims, idx[:, :3], -np.inf, axis=1)
            top = min(5, limit)
            cand = np.argpartition(-sims, top - 1, axis=1)[:, :top]
            order = np.argsort(-np.take_along_axis(sims, cand, axis=1), axis=1, kind="stable")
            cand = np.take_along_axis(cand, order, axis=1)
            for q, row in zip(chunk, cand):
                predicted = None
                for j in row:  # skip other spellings of the question words, as gensim does
                    predicted = fold(wv.index_to_key[j])
                    if predicted not in q[:3]:
                        break
                correct += predicted == q[3]
        result[name] = (correct, len(known) + (unknown if dummy4unknown else 0))
        n_correct += correct
        n_answered += len(known)
        n_oov += unknown
    n_scored = n_answered + (n_oov if dummy4unknown else 0)
    accuracy = n_correct / n_scored if n_scored else 0.0
    return AnalogyScore(accuracy, result, n_correct, n_answered, n_oov)


# --------------------------------------------------------------------------- synthetic corpus

def make_topic_corpus(n_topics: int = 4, words_per_topic: int = 8, n_sentences: int = 400,
                      sentence_length: int = 10, *, shared_word: str | None = None,
                      seed: int | None = 0) -> tuple[list[list[str]], dict[str, int]]:
    """A corpus with planted structure: each sentence talks about one topic.

    Generative model: topic ``t`` owns the words ``"t{t}w{j}"``; a sentence picks a topic
    uniformly and draws ``sentence_length`` words uniformly from that topic's words. Words of
    one topic therefore share their contexts, and a good embedding puts them next to each
    other. With ``shared_word`` (say ``"bank"``), that word also belongs to topics 0 and 1:
    one spelling, two "senses".

    Returns the sentences and the topic of every word (-1 for ``shared_word``).
    """
    n_topics = check_int("n_topics", n_topics, minimum=2)
    words_per_topic = check_int("words_per_topic", words_per_topic, minimum=2)
    n_sentences = check_int("n_sentences", n_sentences, minimum=1)
    sentence_length = check_int("sentence_length", sentence_length, minimum=2)
    if shared_word is not None and (not isinstance(shared_word, str) or not shared_word):
        raise TypeError(f"shared_word must be a non-empty string or None, got {shared_word!r}")
    rng = np.random.default_rng(check_seed("seed", seed))
    vocab = [[f"t{t}w{j}" for j in range(words_per_topic)] for t in range(n_topics)]
    topic_of = {w: t for t, words in enumerate(vocab) for w in words}
    if shared_word is not None:
        if shared_word in topic_of:
            raise ValueError(f"shared_word {shared_word!r} clashes with a topic word")
        vocab[0].append(shared_word)
        vocab[1].append(shared_word)
        topic_of[shared_word] = -1
    sentences = []
    for t in rng.integers(0, n_topics, size=n_sentences):
        words = vocab[t]
        sentences.append([words[j] for j in rng.integers(0, len(words), size=sentence_length)])
    return sentences, topic_of
