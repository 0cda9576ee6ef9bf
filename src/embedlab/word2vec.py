r"""Word2Vec: skip-gram and CBOW with negative sampling, in vectorised NumPy; subword vectors.

Word2Vec (Mikolov et al., 2013a; 2013b) learns two vectors per vocabulary word: an *input*
vector :math:`v_w` (the row of the embedding we keep) and an *output* vector :math:`u_w`. It
turns co-occurrence into a prediction task.

* **Skip-gram**: one example per (center, context) pair inside the window, with
  :math:`h = v_{\text{center}}` and the context word as the target.
* **CBOW** (continuous bag of words): one example per center word, with :math:`h` the mean of
  the input vectors of its context words and the center word as the target.

**The softmax objective.** The model's probability that word :math:`o` is the target given
:math:`h` is a softmax over the :math:`V` words of the vocabulary,

.. math::

    p(o \mid h) = \frac{\exp(u_o^\top h)}{\sum_{w=1}^{V} \exp(u_w^\top h)}, \qquad
    \ell_{\text{softmax}} = -u_o^\top h + \log \sum_{w} \exp(u_w^\top h),

with gradients

.. math::

    \frac{\partial \ell_{\text{softmax}}}{\partial h} = -u_o + \sum_w p(w \mid h)\, u_w,
    \qquad
    \frac{\partial \ell_{\text{softmax}}}{\partial u_w} = \bigl(p(w \mid h) - [w = o]\bigr)\, h .

Every example touches all :math:`V` output vectors: :math:`O(V d)` work per example
(:func:`softmax_loss_and_grads`).

**Negative sampling** (Mikolov et al., 2013b), a simplification of noise-contrastive
estimation (Gutmann and Hyvärinen, 2010), replaces the softmax by :math:`k + 1` binary
decisions: tell the true target :math:`o` (label 1) from :math:`k` words
:math:`n_1, \dots, n_k` drawn from a noise distribution (label 0). With
:math:`\sigma(x) = 1 / (1 + e^{-x})`:

.. math::

    \ell = -\log \sigma(u_o^\top h) - \sum_{j=1}^{k} \log \sigma(-u_{n_j}^\top h).

Writing :math:`s_t = u_t^\top h` and :math:`y_t \in \{0, 1\}` for the label of target :math:`t`,
the gradients are

.. math::

    \frac{\partial \ell}{\partial u_t} = (\sigma(s_t) - y_t)\, h, \qquad
    \frac{\partial \ell}{\partial h} = \sum_t (\sigma(s_t) - y_t)\, u_t ,

which touch :math:`k + 1` output vectors: :math:`O(k d)` work per example. An SGD step with
learning rate :math:`\eta` subtracts :math:`\eta` times these gradients (:func:`sgns_step`).

Ingredients, as in the reference C implementation and gensim:

* **Vocabulary**: words seen fewer than ``min_count`` times are dropped before training,
  sorted by descending frequency.
* **Negative sampling table**: negatives are drawn from the unigram distribution raised to
  the power 3/4, :math:`P_n(w) = c_w^{0.75} / \sum_{w'} c_{w'}^{0.75}` (Mikolov et al.,
  2013b), which samples rare words more often than their frequency would. A negative that
  happens to equal the true target is skipped.
* **Subsampling of frequent words**: with threshold :math:`t` (``sample``) and corpus size
  :math:`N`, an occurrence of a word seen :math:`c_w` times is kept with probability

  .. math::

      P_{\text{keep}}(w) = \min\Bigl(1, \Bigl(\sqrt{\tfrac{c_w}{tN}} + 1\Bigr)\frac{tN}{c_w}\Bigr),

  the formula of the C code and gensim, a variant of the discard probability
  :math:`1 - \sqrt{t / f_w}` given in Mikolov et al. (2013b), with :math:`f_w = c_w / N`.
* **Dynamic window**: for each center the window radius is drawn uniformly from
  :math:`1..\text{window}`, so near words count more often than far ones.
* **Learning rate** decays linearly from ``alpha`` to ``min_alpha`` over all epochs.

What is different here: instead of updating the vectors after every pair, the code takes a
minibatch of consecutive center words, computes every score of the batch with one batched
product from the vectors as they were before the step, and adds the summed updates with a
sparse matrix product (which adds the rows of repeated words correctly and quickly). For
CBOW it adds the update of :math:`h` to every context vector, unscaled, as the C code and
gensim (``cbow_mean=1``) do.

**Analogies** "a is to b as c is to ?" are answered by 3CosAdd (Mikolov et al., 2013a): the
word :math:`x` maximising :math:`\cos(x, \hat v_b - \hat v_a + \hat v_c)` over unit vectors,
*leaving out a, b and c*, since the nearest word to the offset is very often one of them
(:func:`answer_analogies` can keep them, to show it).

**Subword vectors** (fastText; Bojanowski et al., 2017) give a vector to any word, seen or
not. A word is framed as ``<word>`` and cut into its character n-grams of lengths
:math:`n_{\min}..n_{\max}` (:func:`char_ngrams`); each n-gram is hashed (32-bit FNV-1a, as in
the fastText code) into one of ``bucket`` rows of an n-gram matrix (:func:`ngram_bucket`).
Training adds the n-gram rows of a word to its own vector; the vector of an
out-of-vocabulary word is the mean of its n-gram rows (:func:`subword_vector`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.special import expit, logsumexp

from ._checks import check_array, check_choice, check_float, check_int, check_seed

__all__ = [
    "Vocabulary", "build_vocab", "keep_probabilities", "unigram_table", "chunk_tokens",
    "sgns_loss_and_grads", "softmax_loss_and_grads", "sgns_step", "Word2Vec", "WordVectors",
    "PairScore", "AnalogyScore", "evaluate_word_pairs", "evaluate_analogies",
    "answer_analogies", "make_topic_corpus", "make_role_corpus", "char_ngrams", "ngram_bucket",
    "subword_vector",
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


def softmax_loss_and_grads(h, w_out, targets):
    """Full-softmax loss of a batch and its gradients (formulas in the module docstring).

    Parameters
    ----------
    h : (B, d) hidden vectors.
    w_out : (V, d) output vectors of the whole vocabulary.
    targets : (B,) row of the true target word of each example.

    Returns ``(loss, grad_h, grad_w_out)``: the summed loss, and arrays shaped like ``h`` and
    ``w_out``. Every example reads and updates all ``V`` rows of ``w_out``.
    """
    h = check_array("h", h, ndim=2)
    w_out = check_array("w_out", w_out, ndim=2, min_rows=1)
    targets = check_array("targets", targets, ndim=1, dtype=int)
    if w_out.shape[1] != h.shape[1]:
        raise ValueError(f"w_out must have {h.shape[1]} columns like h, got shape {w_out.shape}")
    if len(targets) != len(h):
        raise ValueError(f"targets must hold one word per row of h ({len(h)}), got "
                         f"{len(targets)}")
    if targets.size and (targets.min() < 0 or targets.max() >= len(w_out)):
        raise ValueError(f"targets must be rows of w_out, in 0..{len(w_out) - 1}")
    rows = np.arange(len(h))
    scores = h @ w_out.T  # (B, V): one score per word of the vocabulary
    log_z = logsumexp(scores, axis=1)
    loss = float((log_z - scores[rows, targets]).sum())
    err = np.exp(scores - log_z[:, None])  # p(w | h)
    err[rows, targets] -= 1.0  # p(w | h) - [w = o]
    return loss, err @ w_out, err.T @ h


def _check_table(name: str, table) -> np.ndarray:
    if not isinstance(table, np.ndarray) or table.dtype.kind != "f" or table.ndim != 2:
        raise TypeError(f"{name} must be a 2-D NumPy array of floats (updated in place), got "
                        f"{type(table).__name__}"
                        + (f" of shape {table.shape} and dtype {table.dtype}"
                           if isinstance(table, np.ndarray) else ""))
    if not np.all(np.isfinite(table)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return table


def _check_ids(name: str, ids, ndim: int, n_words: int) -> np.ndarray:
    ids = check_array(name, ids, ndim=ndim, dtype=int)
    if ids.size and (ids.min() < 0 or ids.max() >= n_words):
        raise ValueError(f"{name} must hold word ids in 0..{n_words - 1}, got values in "
                         f"{ids.min()}..{ids.max()}")
    return ids


def sgns_step(w_in, w_out, centers, contexts, negatives, lr) -> float:
    r"""One SGD step of skip-gram with negative sampling on a batch of pairs, in place.

    Parameters
    ----------
    w_in, w_out : (V, d) float arrays of input and output vectors, updated in place.
    centers, contexts : (B,) word ids: pair ``i`` is (``centers[i]``, ``contexts[i]``).
    negatives : (B, k) word ids drawn as negatives for each pair.
    lr : learning rate.

    The loss of pair ``i`` is the negative-sampling loss of the module docstring with
    :math:`h = v_{\text{centers}[i]}`, positive ``contexts[i]`` and negatives
    ``negatives[i]``; a negative equal to the pair's context word is skipped (no loss, no
    update), as in the C code and gensim. Every gradient is computed from the vectors as they
    were before the step, and the updates of a word that occurs several times in the batch
    add up. Returns the summed loss of the batch before the step.
    """
    w_in = _check_table("w_in", w_in)
    w_out = _check_table("w_out", w_out)
    if w_in.shape != w_out.shape:
        raise ValueError(f"w_in and w_out must have the same shape, got {w_in.shape} and "
                         f"{w_out.shape}")
    V = len(w_in)
    centers = _check_ids("centers", centers, 1, V)
    contexts = _check_ids("contexts", contexts, 1, V)
    negatives = _check_ids("negatives", negatives, 2, V)
    if not (len(centers) == len(contexts) == len(negatives)):
        raise ValueError(f"centers, contexts and negatives must have one row per pair, got "
                         f"{len(centers)}, {len(contexts)} and {len(negatives)}")
    lr = check_float("lr", lr, minimum=0.0, strict_min=True)
    if len(centers) == 0:
        return 0.0
    return _sgns_step(w_in, w_out, centers, contexts, negatives, lr)


def _sgns_step(w_in, w_out, centers, contexts, negatives, lr) -> float:
    """:func:`sgns_step` without argument checks (the training loop calls it per batch)."""
    h = np.take(w_in, centers, axis=0)  # (B, d): the input vector of each center
    loss, delta_h = _output_update(h, w_out, contexts, negatives, lr)
    # Each center row receives its delta_h; repeated centers add up.
    _scatter_add(w_in, centers, np.arange(len(centers) + 1),
                 np.ones(len(centers), w_in.dtype), delta_h)
    return loss


def _output_update(h, w_out, positives, negatives, lr):
    """Scores, loss and the SGD update of the output vectors; returns ``(loss, delta_h)``.

    ``delta_h`` is minus the learning rate times the gradient of the loss w.r.t. ``h``; the
    caller adds it to the input vector(s) that ``h`` came from.
    """
    targets = np.concatenate([positives[:, None], negatives], axis=1)  # (B, 1 + k)
    labels = np.zeros(targets.shape, dtype=w_out.dtype)
    labels[:, 0] = 1.0
    live = np.ones(targets.shape, dtype=w_out.dtype)
    live[:, 1:] = negatives != positives[:, None]  # a negative equal to the target is skipped
    o = np.take(w_out, targets, axis=0)  # (B, T, d)
    scores = np.matmul(o, h[:, :, None])[:, :, 0]
    loss = float((np.logaddexp(0.0, (1.0 - 2.0 * labels) * scores) * live).sum())
    g = (labels - expit(scores)) * live * w_out.dtype.type(lr)  # -lr * d loss / d score
    delta_h = np.matmul(g[:, None, :], o)[:, 0, :]  # from the output vectors before the step
    B, T = targets.shape
    _scatter_add(w_out, targets.ravel(), np.arange(0, B * T + 1, T), g.ravel(), h)
    return loss, delta_h


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
        # Divergence is reported below with advice; no overflow warnings on the way there.
        with np.errstate(over="ignore", invalid="ignore"):
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
                if not (np.isfinite(epoch_loss) and np.all(np.isfinite(w_in))):
                    bar.close()
                    raise FloatingPointError(
                        f"training diverged in epoch {len(self.loss_history_)} (the vectors hold "
                        f"NaN or infinite values): lower alpha={self.alpha} or "
                        f"batch_size={self.batch_size}; the updates of a word that occurs many "
                        f"times in one minibatch add up, which a small vocabulary makes likely")
        bar.close()
        self.train_seconds_ = time.perf_counter() - start
        self.train_cpu_seconds_ = time.process_time() - start_cpu
        self.words_per_second_ = self.epochs * vocab.n_tokens / self.train_seconds_
        self.vocab = vocab
        self.wv = WordVectors(vocab.words, w_in, counts=vocab.counts)
        return self

    @staticmethod
    def _negatives(positive, table, rng, k):
        return table[rng.integers(0, len(table), size=(len(positive), k))]

    def _step_skipgram(self, w_in, w_out, centers, contexts, table, rng, k, lr):
        negatives = self._negatives(contexts, table, rng, k)
        return _sgns_step(w_in, w_out, centers, contexts, negatives, lr), len(centers)

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
        negatives = self._negatives(centers, table, rng, k)
        loss, delta_h = _output_update(h, w_out, centers, negatives, lr)
        _scatter_add(w_in, contexts, indptr, ones, delta_h)  # every context word gets delta_h
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


def answer_analogies(wv: WordVectors, questions, *, exclude_query: bool = True) -> list[str]:
    r"""Answer "a is to b as c is to ?" by 3CosAdd for every question, in one matrix product.

    ``questions`` holds ``(a, b, c)`` or ``(a, b, c, d)`` tuples of words of ``wv`` (``d``, the
    expected answer, is not used). The answer is the word whose unit vector has the largest
    cosine with :math:`\hat v_b - \hat v_a + \hat v_c`. With ``exclude_query=True`` (the
    convention of Mikolov et al. and gensim) ``a``, ``b`` and ``c`` cannot be the answer; with
    ``False`` they can, which shows how often the offset points back at a query word. Ties go
    to the more frequent word (the lower row).
    """
    wv = _check_wv(wv)
    if not isinstance(exclude_query, bool):
        raise TypeError(f"exclude_query must be True or False, got {exclude_query!r}")
    if isinstance(questions, (str, bytes)) or not isinstance(questions, Iterable):
        raise TypeError(f"questions must be a list of (a, b, c) tuples, got "
                        f"{type(questions).__name__}")
    rows = []
    for i, q in enumerate(questions):
        if isinstance(q, (str, bytes)) or not isinstance(q, Sequence) or len(q) not in (3, 4) \
                or not all(isinstance(w, str) for w in q):
            raise TypeError(f"questions[{i}] must be 3 or 4 words, got {q!r}")
        rows.append([wv.get_index(w) for w in q[:3]])  # KeyError names an unknown word
    if not rows:
        return []
    idx = np.array(rows)
    answers = []
    for start in range(0, len(idx), 512):  # batches of questions, one product each
        chunk = idx[start:start + 512]
        query = wv.unit[chunk[:, 1]] - wv.unit[chunk[:, 0]] + wv.unit[chunk[:, 2]]
        sims = query @ wv.unit.T  # the norm of the query does not change the ranking
        if exclude_query:
            np.put_along_axis(sims, chunk, -np.inf, axis=1)
        answers.extend(wv.index_to_key[j] for j in np.argmax(sims, axis=1))
    return answers


# --------------------------------------------------------------------------- subword vectors

def _check_ngram_lengths(min_n, max_n) -> tuple[int, int]:
    min_n = check_int("min_n", min_n, minimum=1)
    max_n = check_int("max_n", max_n, minimum=1)
    if max_n < min_n:
        raise ValueError(f"max_n must be >= min_n={min_n}, got {max_n}")
    return min_n, max_n


def char_ngrams(word: str, min_n: int = 3, max_n: int = 6) -> list[str]:
    """The character n-grams of ``"<" + word + ">"`` with ``min_n <= n <= max_n``.

    In fastText's order: by start position, then by length. The boundary marks make a prefix
    (``"<un"``) differ from the same letters inside a word (``"un"`` in ``"fun"``); the marks
    alone (``"<"``, ``">"``) are not n-grams. The whole framed word is one of the n-grams when
    it is at most ``max_n`` characters long.
    """
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__}")
    min_n, max_n = _check_ngram_lengths(min_n, max_n)
    framed = f"<{word}>"
    grams = []
    for i in range(len(framed)):
        for n in range(min_n, min(max_n, len(framed) - i) + 1):
            if n == 1 and i in (0, len(framed) - 1):
                continue
            grams.append(framed[i:i + n])
    return grams


def ngram_bucket(ngram: str, bucket: int) -> int:
    """Row of ``ngram`` in an n-gram matrix of ``bucket`` rows: its 32-bit FNV-1a hash.

    As in the fastText code, the hash runs over the UTF-8 bytes, each read as a *signed*
    char (so bytes above 127 enter as negative numbers), and the row is the hash modulo
    ``bucket``. Different n-grams may share a row (a collision).
    """
    if not isinstance(ngram, str):
        raise TypeError(f"ngram must be a string, got {type(ngram).__name__}")
    bucket = check_int("bucket", bucket, minimum=1)
    h = 2166136261
    for byte in ngram.encode("utf-8"):
        signed = byte - 256 if byte > 127 else byte
        h = ((h ^ (signed & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    return h % bucket


def subword_vector(word: str, ngram_vectors, *, min_n: int = 3, max_n: int = 6) -> np.ndarray:
    """The vector of a word from its character n-grams alone (fastText, for unseen words).

    The mean of the rows ``ngram_vectors[ngram_bucket(g, len(ngram_vectors))]`` over the
    n-grams ``g`` of :func:`char_ngrams`; a word too short to have any n-gram gets the zero
    vector, as in fastText.
    """
    grams = char_ngrams(word, min_n, max_n)
    table = ngram_vectors
    if not isinstance(table, np.ndarray) or table.dtype.kind != "f" or table.ndim != 2 \
            or len(table) == 0:
        table = check_array("ngram_vectors", ngram_vectors, ndim=2, min_rows=1)
    if not grams:
        return np.zeros(table.shape[1], dtype=table.dtype)
    rows = [ngram_bucket(g, len(table)) for g in grams]
    return table[rows].mean(axis=0)


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


def make_role_corpus(n_topics: int = 4, words_per_topic: int = 4, n_sentences: int = 800,
                     clauses: int = 3, *, seed: int | None = 0
                     ) -> tuple[list[list[str]], dict[str, tuple[str, int]]]:
    """A corpus in which the *role* of a word and its *topic* are planted separately.

    Generative model: topic ``t`` owns nouns ``"n{t}_{j}"`` and verbs ``"v{t}_{j}"``
    (``words_per_topic`` of each). A sentence picks a topic uniformly and writes ``clauses``
    clauses ``the <noun> of to <verb> it``, each noun and verb drawn uniformly from the
    topic's words. The words right next to a noun (``the``, ``of``) are the same for every
    topic; the words a few positions away belong to the sentence's topic. So the window
    decides what a noun's vector learns: its role (all nouns alike) or its topic.

    Returns the sentences and, for every noun and verb, its ``(role, topic)``.
    """
    n_topics = check_int("n_topics", n_topics, minimum=2)
    words_per_topic = check_int("words_per_topic", words_per_topic, minimum=2)
    n_sentences = check_int("n_sentences", n_sentences, minimum=1)
    clauses = check_int("clauses", clauses, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    roles = {}
    for t in range(n_topics):
        for j in range(words_per_topic):
            roles[f"n{t}_{j}"] = ("noun", t)
            roles[f"v{t}_{j}"] = ("verb", t)
    sentences = []
    for t in rng.integers(0, n_topics, size=n_sentences):
        sentence = []
        for _ in range(clauses):
            noun, verb = rng.integers(0, words_per_topic, size=2)
            sentence += ["the", f"n{t}_{noun}", "of", "to", f"v{t}_{verb}", "it"]
        sentences.append(sentence)
    return sentences, roles
