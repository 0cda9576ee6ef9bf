"""Tests of embedlab.word2vec: gradients, training on planted corpora, and the evaluation
functions against gensim on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors
from gensim.models import Word2Vec as GensimWord2Vec

from embedlab import data
from embedlab.word2vec import (AnalogyScore, PairScore, Word2Vec, WordVectors, _scatter_add,
                               answer_analogies, build_vocab, char_ngrams, chunk_tokens,
                               evaluate_analogies, evaluate_word_pairs, keep_probabilities,
                               make_role_corpus, make_topic_corpus, ngram_bucket,
                               sgns_loss_and_grads, sgns_step,
                               softmax_loss_and_grads, subword_vector, unigram_table)


@pytest.fixture(scope="module")
def topic_corpus():
    return make_topic_corpus(n_topics=4, words_per_topic=8, n_sentences=300, sentence_length=10,
                             seed=1)


# --------------------------------------------------------------------------- the loss

def _random_batch(rng, B=4, T=6, d=5):
    h = rng.normal(size=(B, d))
    out = rng.normal(size=(B, T, d))
    labels = np.zeros((B, T))
    labels[:, 0] = 1.0
    return h, out, labels


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    h, out, labels = _random_batch(rng)
    _, grad_h, grad_out = sgns_loss_and_grads(h, out, labels)
    eps = 1e-6
    for arr, grad in ((h, grad_h), (out, grad_out)):
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = sgns_loss_and_grads(h, out, labels)[0]
            arr[idx] = old - eps
            down = sgns_loss_and_grads(h, out, labels)[0]
            arr[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_loss_and_gradients_match_torch():
    rng = np.random.default_rng(1)
    h, out, labels = _random_batch(rng, B=7, T=4, d=3)
    loss, grad_h, grad_out = sgns_loss_and_grads(h, out, labels)
    th = torch.tensor(h, requires_grad=True)
    to = torch.tensor(out, requires_grad=True)
    scores = torch.einsum("bd,btd->bt", th, to)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        scores, torch.tensor(labels), reduction="sum")
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(grad_h, th.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_out, to.grad.numpy(), rtol=1e-10)


def test_softmax_loss_and_gradients_match_torch_and_finite_differences():
    rng = np.random.default_rng(11)
    h, w_out = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    targets = np.array([0, 8, 8, 3, 0])  # repeated targets
    loss, grad_h, grad_w = softmax_loss_and_grads(h, w_out, targets)
    th = torch.tensor(h, requires_grad=True)
    tw = torch.tensor(w_out, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(th @ tw.T, torch.tensor(targets), reduction="sum")
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad_h, th.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_w, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    # huge scores do not overflow
    big, _, _ = softmax_loss_and_grads(1e3 * h, w_out, targets)
    assert np.isfinite(big)


def _numeric_grad(f, M, eps=1e-6):
    out = np.zeros_like(M)
    for idx in np.ndindex(M.shape):
        old = M[idx]
        M[idx] = old + eps
        up = f()
        M[idx] = old - eps
        down = f()
        M[idx] = old
        out[idx] = (up - down) / (2 * eps)
    return out


# pairs with repeated centers and contexts, a center equal to its context, and negatives equal
# to the positive (skipped), to the center, or repeated
_CENTERS = np.array([0, 0, 2, 3, 5, 0])
_CONTEXTS = np.array([1, 1, 0, 3, 4, 6])
_NEGATIVES = np.array([[1, 4, 4], [5, 6, 2], [0, 2, 2], [3, 3, 1], [5, 0, 4], [0, 0, 0]])


def test_sgns_step_is_minus_lr_times_the_gradient_of_its_loss():
    rng = np.random.default_rng(12)
    w_in, w_out = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    a, b = w_in.copy(), w_out.copy()
    lr = 0.05
    loss = sgns_step(a, b, _CENTERS, _CONTEXTS, _NEGATIVES, lr)

    def batch_loss():  # the loss of the batch, by the formula, skipping negatives == positive
        total = 0.0
        for c, o, negs in zip(_CENTERS, _CONTEXTS, _NEGATIVES):
            total += np.logaddexp(0.0, -(w_out[o] @ w_in[c]))
            total += sum(np.logaddexp(0.0, w_out[n] @ w_in[c]) for n in negs if n != o)
        return total

    assert loss == pytest.approx(batch_loss(), rel=1e-12)
    np.testing.assert_allclose((w_in - a) / lr, _numeric_grad(batch_loss, w_in), atol=1e-7)
    np.testing.assert_allclose((w_out - b) / lr, _numeric_grad(batch_loss, w_out), atol=1e-7)


def test_sgns_step_agrees_with_the_batch_loss_function_and_keeps_float32():
    rng = np.random.default_rng(13)
    w_in = rng.normal(size=(6, 3)).astype(np.float32)
    w_out = rng.normal(size=(6, 3)).astype(np.float32)
    centers, contexts = np.array([1, 2, 1]), np.array([0, 5, 4])
    negatives = np.array([[3, 2], [1, 1], [0, 5]])  # none equal to its positive
    out = w_out[np.concatenate([contexts[:, None], negatives], axis=1)]
    labels = np.zeros((3, 3))
    labels[:, 0] = 1
    ref_loss, ref_gh, ref_gout = sgns_loss_and_grads(w_in[centers], out, labels)
    a, b = w_in.copy(), w_out.copy()
    loss = sgns_step(a, b, centers, contexts, negatives, 0.1)
    assert a.dtype == np.float32 and b.dtype == np.float32
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    expected_in = w_in.astype(np.float64)
    np.add.at(expected_in, centers, -0.1 * ref_gh)
    np.testing.assert_allclose(a, expected_in, rtol=1e-5, atol=1e-6)
    expected_out = w_out.astype(np.float64)
    np.add.at(expected_out, np.concatenate([contexts[:, None], negatives], axis=1).ravel(),
              -0.1 * ref_gout.reshape(-1, 3))
    np.testing.assert_allclose(b, expected_out, rtol=1e-5, atol=1e-6)


def test_sgns_step_on_an_empty_batch_changes_nothing():
    w_in, w_out = np.ones((3, 2)), np.ones((3, 2))
    empty = np.zeros(0, dtype=int)
    assert sgns_step(w_in, w_out, empty, empty, np.zeros((0, 2), dtype=int), 0.1) == 0.0
    assert np.all(w_in == 1) and np.all(w_out == 1)


@pytest.mark.parametrize("args, error, match", [
    ((np.ones((3, 2)).tolist(), np.ones((3, 2)), [0], [1], [[2]], 0.1), TypeError, "w_in"),
    ((np.ones((3, 2)), np.ones((4, 2)), [0], [1], [[2]], 0.1), ValueError, "same shape"),
    ((np.ones((3, 2)), np.ones((3, 2)), [0], [3], [[2]], 0.1), ValueError, "contexts"),
    ((np.ones((3, 2)), np.ones((3, 2)), [0, 1], [1], [[2]], 0.1), ValueError, "one row per"),
    ((np.ones((3, 2)), np.ones((3, 2)), [0], [1], [2], 0.1), ValueError, "negatives must be 2-D"),
    ((np.ones((3, 2)), np.ones((3, 2)), [0.5], [1], [[2]], 0.1), TypeError, "centers"),
    ((np.ones((3, 2)), np.ones((3, 2)), [0], [1], [[2]], 0.0), ValueError, "lr"),
    ((np.full((3, 2), np.nan), np.ones((3, 2)), [0], [1], [[2]], 0.1), ValueError, "NaN"),
])
def test_sgns_step_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        sgns_step(*args)


@pytest.mark.parametrize("n_rows", [4, 1000])  # dense path and sparse-rows path
def test_scatter_add_equals_add_at(n_rows):
    rng = np.random.default_rng(2)
    values = rng.normal(size=(30, 3)).astype(np.float32)
    rows = rng.integers(0, n_rows, size=90)
    weights = rng.normal(size=90).astype(np.float32)
    indptr = np.arange(0, 91, 3)  # group j = entries 3j..3j+2, all of value row j
    matrix = rng.normal(size=(n_rows, 3)).astype(np.float32)
    expected = matrix.copy()
    np.add.at(expected, rows, weights[:, None] * values[np.repeat(np.arange(30), 3)])
    _scatter_add(matrix, rows, indptr, weights, values)
    np.testing.assert_allclose(matrix, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- vocabulary, sampling

def _gensim_vocab_model(sentences, **kw):
    model = GensimWord2Vec(vector_size=4, min_count=2, workers=1, **kw)
    model.build_vocab(sentences)
    return model


def test_vocabulary_matches_gensim(topic_corpus):
    sentences, _ = topic_corpus
    sentences = sentences + [["rare"], ["rarer", "rarer"]]
    ours = build_vocab(sentences, min_count=2)
    theirs = _gensim_vocab_model(sentences)
    assert set(ours.words) == set(theirs.wv.index_to_key)
    counts = {w: theirs.wv.get_vecattr(w, "count") for w in theirs.wv.index_to_key}
    assert {w: int(c) for w, c in zip(ours.words, ours.counts)} == counts
    assert np.all(np.diff(ours.counts) <= 0)
    assert ours.n_tokens == sum(map(len, sentences))
    assert "rare" not in ours.index


def test_keep_probabilities_match_gensim():
    words = [f"w{i}" for i in range(30)]
    rng = np.random.default_rng(3)
    sentences = [list(rng.choice(words, size=50, p=np.arange(30, 0, -1) / 465)) for _ in range(40)]
    vocab = build_vocab(sentences, min_count=2)
    theirs = _gensim_vocab_model(sentences, sample=1e-2)
    expected = [theirs.wv.get_vecattr(w, "sample_int") / (2**32 - 1) for w in vocab.words]
    np.testing.assert_allclose(keep_probabilities(vocab.counts, 1e-2), expected, atol=1e-8)
    assert np.all(keep_probabilities(vocab.counts, 0.0) == 1.0)


def test_unigram_table_matches_gensim_cum_table(topic_corpus):
    sentences, _ = topic_corpus
    vocab = build_vocab(sentences, min_count=2)
    theirs = _gensim_vocab_model(sentences)
    cum = theirs.cum_table.astype(np.float64)
    share_of = dict(zip(theirs.wv.index_to_key, np.diff(np.concatenate([[0.0], cum])) / cum[-1]))
    expected = [share_of[w] for w in vocab.words]  # gensim orders ties differently
    table = unigram_table(vocab.counts, 0.75, size=100_000)
    share = np.bincount(table, minlength=len(vocab)) / len(table)
    np.testing.assert_allclose(share, expected, atol=2e-5)


def test_chunk_tokens():
    assert chunk_tokens(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]


# --------------------------------------------------------------------------- training

@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_loss_falls_and_planted_topics_are_recovered(topic_corpus, mode):
    sentences, topic_of = topic_corpus
    model = Word2Vec(16, mode=mode, window=3, min_count=1, epochs=5, sample=0.0, alpha=0.05,
                     batch_size=32, progress=False, seed=0).fit(sentences)
    assert model.loss_history_[-1] < 0.8 * model.loss_history_[0]
    wv = model.wv
    same = [topic_of[wv.most_similar(w, topn=1)[0][0]] == topic_of[w] for w in wv.index_to_key]
    assert np.mean(same) >= 0.9


def test_training_is_seeded(topic_corpus):
    sentences, _ = topic_corpus
    kw = dict(vector_size=8, min_count=1, epochs=1, progress=False)
    a = Word2Vec(seed=5, **kw).fit(sentences).wv.vectors
    b = Word2Vec(seed=5, **kw).fit(sentences).wv.vectors
    c = Word2Vec(seed=6, **kw).fit(sentences).wv.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_shared_word_sits_between_its_two_topics():
    sentences, topic_of = make_topic_corpus(n_sentences=400, shared_word="bank", seed=2)
    wv = Word2Vec(16, window=3, min_count=1, epochs=5, sample=0.0, alpha=0.05, batch_size=32,
                  progress=False).fit(sentences).wv
    mean_sim = {t: np.mean([wv.similarity("bank", w) for w, s in topic_of.items() if s == t])
                for t in range(4)}
    assert min(mean_sim[0], mean_sim[1]) > max(mean_sim[2], mean_sim[3])


def test_divergence_is_reported_with_advice():
    sentences, _ = make_topic_corpus(n_topics=2, words_per_topic=2, n_sentences=200, seed=0)
    with pytest.raises(FloatingPointError, match="diverged.*lower alpha"):
        Word2Vec(8, window=5, min_count=1, epochs=3, sample=0.0, alpha=50.0, batch_size=512,
                 progress=False).fit(sentences)


def test_role_corpus_plants_role_and_topic_and_the_window_picks_one():
    sentences, roles = make_role_corpus(n_topics=3, words_per_topic=3, n_sentences=500,
                                        clauses=3, seed=1)
    assert len(sentences) == 500 and all(len(s) == 18 for s in sentences)
    for s in sentences:
        assert len({roles[w][1] for w in s if w in roles}) == 1  # one topic per sentence
        assert s[0::6] == ["the"] * 3 and s[2::6] == ["of"] * 3
        assert all(roles[w][0] == "noun" for w in s[1::6])
        assert all(roles[w][0] == "verb" for w in s[4::6])
    assert len(roles) == 18
    shares = {}
    for window in (1, 8):
        wv = Word2Vec(16, window=window, min_count=1, epochs=5, sample=0.0, alpha=0.025,
                      batch_size=16, progress=False, seed=0).fit(sentences).wv
        nouns = [w for w, (role, _) in roles.items() if role == "noun"]
        same_topic = []
        for w in nouns:
            near = [x for x, _ in wv.most_similar(w, topn=len(wv)) if x in roles][:4]
            same_topic.append(np.mean([roles[x][1] == roles[w][1] for x in near]))
        shares[window] = np.mean(same_topic)
    # window 1 sees only "the" and "of" around a noun: its topic is invisible (chance is 2/8)
    assert shares[1] < 0.5 and shares[8] > 0.9, shares


# --------------------------------------------------------------------------- word vectors

@pytest.fixture(scope="module")
def random_vectors():
    """Random vectors for the benchmark words plus capitalised duplicates and fillers."""
    rng = np.random.default_rng(4)
    words = sorted({w for a, b, _ in data.load_wordsim353()[:200] for w in (a, b)})
    words = [w for i, w in enumerate(words) if i % 5]  # some pairs out of vocabulary
    keys = words[:40] + [w.capitalize() for w in words[:20]] + words[40:] + ["Love", "TIGER"]
    keys += [f"filler{i}" for i in range(50)]
    return WordVectors(keys, rng.normal(size=(len(keys), 12)))


def test_most_similar_and_similarity_match_gensim(random_vectors):
    wv = random_vectors
    kv = wv.to_gensim()
    for positive, negative in ((["love"], []), (["tiger", "cat"], ["love"]), ([], ["cat"])):
        ours = wv.most_similar(positive, negative, topn=7)
        theirs = kv.most_similar(positive=positive, negative=negative, topn=7)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    assert wv.similarity("tiger", "cat") == pytest.approx(float(kv.similarity("tiger", "cat")),
                                                          abs=1e-6)
    assert wv.analogy("love", "tiger", "cat", topn=3) == wv.most_similar(["tiger", "cat"],
                                                                         ["love"], topn=3)
    assert [w for w, _ in wv.most_similar("love", topn=5, restrict_vocab=30)] == \
        [w for w, _ in kv.most_similar("love", topn=5, restrict_vocab=30)]


def test_answer_analogies_match_gensim_and_brute_force(random_vectors):
    wv = random_vectors
    kv = wv.to_gensim()
    rng = np.random.default_rng(14)
    questions = [tuple(rng.choice(wv.index_to_key, size=3, replace=False)) for _ in range(40)]
    questions += [("love", "love", "tiger"), ("cat", "tiger", "cat", "unused")]  # repeats
    with_exclusion = answer_analogies(wv, questions)
    assert with_exclusion == [kv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]
                              for a, b, c, *_ in questions]
    without = answer_analogies(wv, questions, exclude_query=False)
    for (a, b, c, *_), got in zip(questions, without):
        unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
        query = unit[wv.key_to_index[b]] - unit[wv.key_to_index[a]] + unit[wv.key_to_index[c]]
        assert got == wv.index_to_key[int(np.argmax(unit @ query))]
    assert any(got in q[:3] for got, q in zip(without, questions))  # the case the flag shows
    assert not any(got in q[:3] for got, q in zip(with_exclusion, questions))
    assert answer_analogies(wv, []) == []


def test_answer_analogies_rejects_bad_questions(random_vectors):
    with pytest.raises(KeyError, match="out of vocabulary"):
        answer_analogies(random_vectors, [("love", "qwertyuiop", "cat")])
    with pytest.raises(TypeError, match="3 or 4 words"):
        answer_analogies(random_vectors, [("love", "cat")])
    with pytest.raises(TypeError, match="exclude_query"):
        answer_analogies(random_vectors, [("love", "cat", "tiger")], exclude_query="no")
    with pytest.raises(TypeError, match="WordVectors"):
        answer_analogies(random_vectors.to_gensim(), [("love", "cat", "tiger")])


# --------------------------------------------------------------------------- subword vectors

_NGRAM_WORDS = ["where", "a", "", "vallei", "valley", "naïve", "日本語", "x" * 12, "über-cool"]


@pytest.mark.parametrize("min_n, max_n", [(3, 6), (1, 3), (2, 5), (4, 4)])
def test_char_ngrams_and_buckets_match_gensim(min_n, max_n):
    from gensim.models.fasttext import ft_ngram_hashes
    from gensim.models.fasttext_inner import compute_ngrams_bytes

    for word in _NGRAM_WORDS:
        grams = char_ngrams(word, min_n, max_n)
        assert [g.encode("utf-8") for g in grams] == compute_ngrams_bytes(word, min_n, max_n)
        assert [ngram_bucket(g, 2_000) for g in grams] == ft_ngram_hashes(word, min_n, max_n, 2_000)
    assert char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]


def test_subword_vector_matches_gensim_fasttext_for_unseen_words():
    from gensim.models import FastText

    sentences, _ = make_topic_corpus(n_sentences=120, seed=3)
    ft = FastText(sentences, vector_size=6, min_count=1, bucket=300, min_n=2, max_n=4,
                  epochs=1, workers=1, seed=0)
    for word in ["t0w1x", "t3w", "naïve", "zz", "q"]:
        assert word not in ft.wv.key_to_index
        np.testing.assert_allclose(subword_vector(word, ft.wv.vectors_ngrams, min_n=2, max_n=4),
                                   ft.wv[word], rtol=1e-5, atol=1e-7)
    # a word with no n-gram of the requested lengths gets the zero vector, as in fastText
    assert not np.any(subword_vector("", ft.wv.vectors_ngrams, min_n=3, max_n=4))


def test_subword_helpers_reject_bad_arguments():
    with pytest.raises(TypeError, match="word"):
        char_ngrams(3)
    with pytest.raises(ValueError, match="max_n"):
        char_ngrams("abc", 4, 3)
    with pytest.raises(ValueError, match="min_n"):
        char_ngrams("abc", 0, 3)
    with pytest.raises(ValueError, match="bucket"):
        ngram_bucket("abc", 0)
    with pytest.raises(TypeError, match="ngram"):
        ngram_bucket(b"abc", 10)
    with pytest.raises(ValueError, match="ngram_vectors must be 2-D"):
        subword_vector("abc", np.ones(4))


def test_from_gensim_round_trip(random_vectors):
    back = WordVectors.from_gensim(random_vectors.to_gensim())
    assert back.index_to_key == random_vectors.index_to_key
    np.testing.assert_array_equal(back.vectors, random_vectors.vectors)


def test_out_of_vocabulary_word_has_no_vector(random_vectors):
    assert "qwertyuiop" not in random_vectors
    with pytest.raises(KeyError, match="out of vocabulary"):
        random_vectors["qwertyuiop"]
    with pytest.raises(KeyError, match="out of vocabulary"):
        random_vectors.most_similar("qwertyuiop")


# --------------------------------------------------------------------------- evaluation vs gensim

@pytest.mark.parametrize("restrict_vocab", [300_000, 60])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_word_pairs_agree_with_gensim(random_vectors, tmp_path, restrict_vocab,
                                      case_insensitive, dummy4unknown):
    pairs = data.load_wordsim353()
    pairs = pairs[:150] + [("Love", "sex", 6.77), ("TIGER", "cat", 7.35)]
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment line\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    ours = evaluate_word_pairs(random_vectors, pairs, restrict_vocab=restrict_vocab,
                               case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    pearson, spearman, oov_ratio = random_vectors.to_gensim().evaluate_word_pairs(
        str(path), restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown)
    assert isinstance(ours, PairScore)
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-5)
    assert 100 * ours.n_oov / len(pairs) == pytest.approx(oov_ratio)
    assert ours.n_pairs + ours.n_oov == len(pairs) and ours.n_oov > 0
    assert ours.coverage == pytest.approx(1 - oov_ratio / 100)


@pytest.fixture(scope="module")
def analogy_vectors():
    """Vectors with planted analogy offsets for three real sections, with noise and fillers."""
    sections = data.load_analogies()
    picked = {name: sections[name][:120] for name in ("capital-common-countries", "family",
                                                      "gram3-comparative")}
    rng = np.random.default_rng(7)
    d = 20
    offsets = {name: rng.normal(size=d) for name in picked}
    vec: dict[str, np.ndarray] = {}
    for name, questions in picked.items():
        for a, b, c, e in questions:
            for x, y in ((a, b), (c, e)):
                vec.setdefault(x, rng.normal(size=d))
                vec.setdefault(y, vec[x] + offsets[name] + rng.normal(scale=0.6, size=d))
    keys = list(vec)
    rng.shuffle(keys)
    keys = keys[:-6]  # a few words out of vocabulary
    vectors = [vec[k] for k in keys]
    keys.insert(3, "Athens")  # another spelling of a capital, ranked before "athens"
    vectors.insert(3, rng.normal(size=d))
    keys += [f"filler{i}" for i in range(100)]
    vectors += list(rng.normal(size=(100, d)))
    # the analogy file has capitalised words: write the sections back in that style
    cased = {name: [tuple(w.capitalize() if name.startswith("capital") else w for w in q)
                    for q in qs] for name, qs in picked.items()}
    return WordVectors(keys, np.array(vectors)), cased


@pytest.mark.parametrize("restrict_vocab", [300_000, 120])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_analogies_agree_with_gensim(analogy_vectors, tmp_path, restrict_vocab,
                                     case_insensitive, dummy4unknown):
    wv, sections = analogy_vectors
    path = tmp_path / "questions.txt"
    path.write_text("".join(f": {name}\n" + "".join(" ".join(q) + "\n" for q in qs)
                            for name, qs in sections.items()))
    ours = evaluate_analogies(wv, sections, restrict_vocab=restrict_vocab,
                              case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    score, theirs = wv.to_gensim().evaluate_word_analogies(
        str(path), restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown)
    assert isinstance(ours, AnalogyScore)
    assert ours.accuracy == pytest.approx(score)
    for section in theirs[:-1]:
        assert ours.sections[section["section"]] == (
            len(section["correct"]), len(section["correct"]) + len(section["incorrect"]))
    n_questions = sum(map(len, sections.values()))
    assert ours.n_answered + ours.n_oov == n_questions
    if case_insensitive and restrict_vocab > len(wv):
        assert 0.2 < ours.accuracy < 1.0 and ours.n_oov > 0  # the test exercises both outcomes


# --------------------------------------------------------------------------- argument checks

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(vector_size=0), ValueError, "vector_size"),
    (dict(mode="glove"), ValueError, "mode"),
    (dict(window="5"), TypeError, "window"),
    (dict(negative=0), ValueError, "negative"),
    (dict(sample=1.5), ValueError, "sample"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=0.01, min_alpha=0.1), ValueError, "min_alpha"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(progress="yes"), TypeError, "progress"),
])
def test_word2vec_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        Word2Vec(**kwargs)


@pytest.mark.parametrize("sentences, error, match", [
    ("a b c", TypeError, "iterable of token lists"),
    (["a", "b"], TypeError, "chunk_tokens"),
    ([[1, 2]], TypeError, "tokens must be strings"),
    ([[], []], ValueError, "no tokens"),
    ([["a", "b"]], ValueError, "min_count"),
])
def test_fit_rejects_bad_corpora(sentences, error, match):
    with pytest.raises(error, match=match):
        Word2Vec(min_count=2, progress=False).fit(sentences)


def test_helpers_reject_bad_arguments():
    with pytest.raises(TypeError, match="tokens"):
        chunk_tokens("abc")
    with pytest.raises(ValueError, match="size"):
        chunk_tokens(["a"], 0)
    with pytest.raises(ValueError, match="positive"):
        keep_probabilities([3, 0], 1e-3)
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities([3, 1], -1.0)
    with pytest.raises(ValueError, match="size"):
        unigram_table([3, 2, 1], size=2)
    with pytest.raises(TypeError, match="exponent"):
        unigram_table([3, 2, 1], exponent="3/4")
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        sgns_loss_and_grads(np.ones((2, 3)), np.ones((2, 4, 3)), np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="out must have shape"):
        sgns_loss_and_grads(np.ones((2, 3)), np.ones((2, 4, 2)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="labels must have shape"):
        sgns_loss_and_grads(np.ones((2, 3)), np.ones((2, 4, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="targets must be rows"):
        softmax_loss_and_grads(np.ones((2, 3)), np.ones((4, 3)), [0, 4])
    with pytest.raises(ValueError, match="columns"):
        softmax_loss_and_grads(np.ones((2, 3)), np.ones((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="one word per row"):
        softmax_loss_and_grads(np.ones((2, 3)), np.ones((4, 3)), [0])
    with pytest.raises(ValueError, match="n_topics"):
        make_topic_corpus(n_topics=1)
    with pytest.raises(ValueError, match="clauses"):
        make_role_corpus(clauses=0)
    with pytest.raises(ValueError, match="words_per_topic"):
        make_role_corpus(words_per_topic=1)
    with pytest.raises(TypeError, match="shared_word"):
        make_topic_corpus(shared_word=3)
    with pytest.raises(ValueError, match="clashes"):
        make_topic_corpus(shared_word="t0w1")


def test_word_vectors_reject_bad_arguments(random_vectors):
    with pytest.raises(TypeError, match="keys"):
        WordVectors("abc", np.ones((3, 2)))
    with pytest.raises(ValueError, match="rows"):
        WordVectors(["a", "b"], np.ones((3, 2)))
    with pytest.raises(ValueError, match="unique"):
        WordVectors(["a", "a"], np.ones((2, 2)))
    with pytest.raises(TypeError, match="strings"):
        WordVectors([1, 2], np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least one word"):
        random_vectors.most_similar()
    with pytest.raises(ValueError, match="topn"):
        random_vectors.most_similar("love", topn=0)
    with pytest.raises(TypeError, match="word must be a string"):
        random_vectors.get_index(3)
    with pytest.raises(TypeError, match="KeyedVectors"):
        WordVectors.from_gensim(np.ones(3))


def test_evaluations_reject_bad_arguments(random_vectors):
    kv = random_vectors.to_gensim()
    with pytest.raises(TypeError, match="WordVectors"):
        evaluate_word_pairs(kv, [("a", "b", 1.0)])
    with pytest.raises(TypeError, match="triple"):
        evaluate_word_pairs(random_vectors, [("love", "sex")])
    with pytest.raises(ValueError, match="at least 2"):
        evaluate_word_pairs(random_vectors, [("zzz", "yyy", 1.0), ("love", "sex", 6.8)])
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_word_pairs(random_vectors, [("love", "sex", 6.8)], restrict_vocab=0)
    with pytest.raises(TypeError, match="case_insensitive"):
        evaluate_word_pairs(random_vectors, [("love", "sex", 6.8)], case_insensitive="yes")
    with pytest.raises(TypeError, match="dummy4unknown"):
        evaluate_word_pairs(random_vectors, [("love", "sex", 6.8)], dummy4unknown=1)
    with pytest.raises(TypeError, match="dummy4unknown"):
        evaluate_analogies(random_vectors, {}, dummy4unknown="no")
    with pytest.raises(TypeError, match="dict"):
        evaluate_analogies(random_vectors, [("a", "b", "c", "d")])
    with pytest.raises(TypeError, match="four words"):
        evaluate_analogies(random_vectors, {"s": [("a", "b", "c")]})
