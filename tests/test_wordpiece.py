"""Tests of embedlab.wordpiece: our WordPiece tokenizer against the model's own tokenizer."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("transformers")

from embedlab import bert, data, wordpiece  # noqa: E402

# Strings that exercise every rule: accents, punctuation (ASCII and Unicode), symbols that
# are not punctuation, control and zero-width characters, odd white space, CJK characters,
# special tokens written in the text, unknown characters, words at and over the length limit.
TRICKY = [
    "Hello, world!",
    "Café naïve résumé Ærøskøbing mañana São Paulo Zürich",
    "don't!! e-mail 3.14 $5 €5 ½ x² a_b c~d `e` 50%",
    "ΟΔΟΣ Σίσυφος İstanbul",
    "中文字符测试 and 日本語 mixed中文text",
    "tab\tnew\nline\rcr\x0bvt\x0cff\x1c\x7fdel",
    "zero\u200bwidth non\u00a0breaking\u2028line\u3000ideographic",
    "☃ 🤖 emoji👍 ™ © ﬁ",
    "[CLS] a [MASK] b[SEP]c [mask] [UNK]",
    "“smart quotes” ‘single’ — em-dash … ellipsis «guillemets»",
    "supercalifragilisticexpialidocious xqzvbn",
    "a" * 100 + " " + "a" * 101 + " " + "b" * 99 + "é",
    "",
    "   ",
    "\ufffd\x00",
    "naïve\u0301 ़ alone",
    "The Unbelievably quick-thinking otters (Lutra lutra) reappeared upstream.",
]


@pytest.fixture(scope="module")
def reference():
    return bert.load_tokenizer()


@pytest.fixture(scope="module")
def ours():
    return wordpiece.WordPieceTokenizer.from_pretrained()


def test_vocabulary_is_the_models(reference, ours):
    assert len(ours) == len(reference.get_vocab()) == 30522
    assert ours.vocab == reference.get_vocab()


@pytest.mark.parametrize("text", TRICKY)
def test_tokens_and_ids_equal_the_models_tokenizer(reference, ours, text):
    assert ours.tokenize(text) == reference.tokenize(text)
    assert ours.encode(text) == reference(text)["input_ids"]


def test_every_lee_document_is_tokenized_like_the_model(reference, ours):
    lee, _ = data.load_lee()
    docs = lee + data.load_lee_background()
    assert len(docs) == 350
    assert ours(docs)["input_ids"] == reference(docs)["input_ids"]


def test_batches_pad_truncate_and_mask_like_the_model(reference, ours):
    texts = ["A short one.", "A much longer sentence, with a comma and an unusual word: zyzzyva!", "Hi"]
    for kwargs in ({"padding": True}, {"padding": True, "truncation": True, "max_length": 8}):
        a = ours(texts, return_tensors="np", **kwargs)
        b = reference(texts, return_tensors="np", **kwargs)
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    lists = ours(texts, truncation=True, max_length=6)
    assert lists == {k: v for k, v in reference(texts, truncation=True, max_length=6).items()}
    assert ours("one text") == reference("one text").data


def test_greedy_longest_match_rules():
    vocab = {"un": 0, "##aff": 1, "##able": 2, "unaff": 3, "##a": 4, "a": 5, "##b": 6}
    assert wordpiece.wordpiece("unaffable", vocab) == ["unaff", "##able"]  # longest first piece
    assert wordpiece.wordpiece("unable", vocab) == ["un", "##able"]
    assert wordpiece.wordpiece("ab", vocab) == ["a", "##b"]
    assert wordpiece.wordpiece("abc", vocab) == ["[UNK]"]  # "c" starts no piece: the whole word
    assert wordpiece.wordpiece("", vocab) == []
    assert wordpiece.wordpiece("a" * 5, vocab, max_chars=5) == ["a"] + ["##a"] * 4
    assert wordpiece.wordpiece("a" * 6, vocab, max_chars=5) == ["[UNK]"]
    assert wordpiece.wordpiece("b", vocab, unk_token="<unk>") == ["<unk>"]  # "##b" does not start


def test_greedy_is_not_always_the_fewest_pieces():
    # Greedy takes "abc" first and then needs two more pieces; "ab" + "##cde" needs two.
    vocab = {"abc": 0, "ab": 1, "##cde": 2, "##d": 3, "##e": 4}
    assert wordpiece.wordpiece("abcde", vocab) == ["abc", "##d", "##e"]
    assert wordpiece.fewest_pieces("abcde", vocab) == ["ab", "##cde"]
    assert wordpiece.fewest_pieces("abc", vocab) == ["abc"]  # a tie is broken by the longest first
    assert wordpiece.fewest_pieces("abx", vocab) is None
    assert wordpiece.fewest_pieces("", vocab) == []


def test_fewest_pieces_never_needs_more_than_greedy():
    vocab = wordpiece.load_vocab()
    words = wordpiece.basic_tokenize(data.load_lee()[0][0] + " warplanes mistrust unbelievably")
    for word in words:
        greedy, fewest = wordpiece.wordpiece(word, vocab), wordpiece.fewest_pieces(word, vocab)
        assert fewest is not None and len(fewest) <= len(greedy)
        assert "".join(p.removeprefix("##") for p in fewest) == word
    assert wordpiece.fewest_pieces("warplanes", vocab) == ["war", "##planes"]
    assert wordpiece.wordpiece("warplanes", vocab) == ["warp", "##lane", "##s"]


def test_normalize_and_pre_tokenize():
    assert wordpiece.normalize("Crème BRÛLÉE") == "creme brulee"
    assert wordpiece.normalize("Crème", lowercase=False) == "Crème"
    assert wordpiece.normalize("a\tb\x00c\u200bd") == "a bcd"
    assert wordpiece.normalize("日本") == " 日  本 "
    assert wordpiece.pre_tokenize("don't stop!") == ["don", "'", "t", "stop", "!"]
    assert wordpiece.pre_tokenize("€5 +1") == ["€5", "+", "1"]  # € is a symbol, + ASCII punctuation
    assert wordpiece.basic_tokenize("Hello,  WORLD…") == ["hello", ",", "world", "…"]


def test_ids_and_tokens_round_trip(ours):
    ids = ours.encode("the river bank")
    assert ids[0] == ours.cls_token_id and ids[-1] == ours.sep_token_id
    assert ours.convert_ids_to_tokens(ids) == ["[CLS]", "the", "river", "bank", "[SEP]"]
    assert ours.convert_tokens_to_ids("bank") == ids[3]
    assert ours.convert_tokens_to_ids("not-a-token") == ours.vocab["[UNK]"]
    assert ours.convert_ids_to_tokens(np.int64(ids[3])) == "bank"


def test_load_vocab_from_file_and_errors(tmp_path):
    path = data.pretrained_model_path()
    assert wordpiece.load_vocab(path / "vocab.txt") == wordpiece.load_vocab(path)
    with pytest.raises(FileNotFoundError, match="no vocabulary file"):
        wordpiece.load_vocab(tmp_path)
    (tmp_path / "vocab.txt").write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lists some token twice"):
        wordpiece.load_vocab(tmp_path)
    with pytest.raises(TypeError, match="path must be None, a str or a Path"):
        wordpiece.load_vocab(3)


def test_bad_arguments(ours):
    with pytest.raises(TypeError, match="text must be a string"):
        wordpiece.normalize(b"bytes")
    with pytest.raises(TypeError, match="lowercase must be True or False"):
        wordpiece.normalize("a", lowercase=1)
    with pytest.raises(TypeError, match="text must be a string"):
        wordpiece.pre_tokenize(None)
    with pytest.raises(TypeError, match="word must be a string"):
        wordpiece.wordpiece(["a"], {"a": 0})
    with pytest.raises(TypeError, match="vocab must be a dict or set"):
        wordpiece.wordpiece("a", "abc")
    with pytest.raises(ValueError, match="max_chars must be >= 1"):
        wordpiece.wordpiece("a", {"a": 0}, max_chars=0)
    with pytest.raises(TypeError, match="word must be a string"):
        wordpiece.fewest_pieces(None, {"a": 0})
    with pytest.raises(TypeError, match="vocab must be a dict or set"):
        wordpiece.fewest_pieces("a", 5)
    with pytest.raises(TypeError, match="vocab must be a non-empty dict"):
        wordpiece.WordPieceTokenizer({})
    with pytest.raises(ValueError, match="lacks the special tokens"):
        wordpiece.WordPieceTokenizer({"a": 0})
    with pytest.raises(TypeError, match="text must be a string"):
        ours.tokenize(3)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string"):
        ours(["a", 2])
    with pytest.raises(TypeError, match="texts must be a string or a list"):
        ours(5)
    with pytest.raises(TypeError, match="padding must be True or False"):
        ours(["a"], padding="longest")
    with pytest.raises(ValueError, match="return_tensors must be None or 'np'"):
        ours(["a"], return_tensors="pt")
    with pytest.raises(ValueError, match="use padding=True"):
        ours(["a", "a b c"], return_tensors="np")
    with pytest.raises(ValueError, match="max_length must be >= 2"):
        ours(["a"], truncation=True, max_length=1)
