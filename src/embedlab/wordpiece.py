r"""WordPiece tokenization, as BERT's uncased tokenizer does it, from scratch.

BERT reads *WordPiece* tokens (Schuster and Nakajima, 2012; Wu et al., 2016): a fixed
vocabulary :math:`V` of whole words and of word pieces, where a piece that continues a word
carries the prefix ``##``. A text becomes tokens in three steps (Devlin et al., 2019).

**1. Normalise.** Drop the characters that carry no text (NUL, the replacement character
U+FFFD, and control and format characters of Unicode categories Cc, Cf, Co, Cs and Cn,
except tab, newline and carriage return), turn every white-space character into a space, put
spaces around CJK ideographs (so that each one becomes its own word), decompose accented
letters (Unicode NFD) and drop the combining marks (category Mn), and lower-case each
character: *Café* becomes *cafe*.

**2. Pre-tokenize.** Split at white space, and cut every punctuation character into a word
of its own: ASCII punctuation (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``) and every character
of the Unicode punctuation categories P*. *don't!* becomes ``don ' t !``.

**3. Greedy longest match.** Each word :math:`w = c_1 \dots c_n` is cut left to right: from
position :math:`i`, take the longest :math:`j` such that the piece :math:`c_i \dots c_j`
(written ``##c_i...c_j`` when :math:`i > 1`) is in :math:`V`, emit it and continue at
:math:`j + 1`:

.. math::

    j^\star(i) = \max\{\, j \ge i : \pi_i(c_i \dots c_j) \in V \,\},
    \qquad \pi_i(s) = \begin{cases} s & i = 1 \\ \texttt{\#\#}s & i > 1 \end{cases}

If no piece starts at some position, the whole word becomes the single token ``[UNK]``
(not a partial cut), and so does a word of more than 100 characters. Greedy is not the
cut with the fewest pieces, but it is fast and needs no search: at most
:math:`O(n^2)` dictionary look-ups for a word of :math:`n` characters.

**Special tokens.** The special tokens ``[CLS]``, ``[SEP]``, ``[PAD]``, ``[MASK]`` and
``[UNK]`` written literally in the text are kept as they are (before normalisation). A
sentence is framed as ``[CLS] tokens [SEP]``; a batch is padded on the right with
``[PAD]`` (id 0) to its longest sentence, and the attention mask marks the real tokens.

The rules follow the ``BertNormalizer``, ``BertPreTokenizer`` and ``WordPiece`` model of
Hugging Face's ``tokenizers`` library (Wolf et al., 2020), which the tests use as the
reference.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._checks import check_int

__all__ = [
    "SPECIAL_TOKENS", "load_vocab", "normalize", "pre_tokenize", "basic_tokenize",
    "wordpiece", "fewest_pieces", "WordPieceTokenizer",
]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
# CJK ideograph blocks that BERT splits into single characters.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _check_text(name: str, text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    return text


def load_vocab(path=None) -> dict[str, int]:
    """The vocabulary of a BERT model: token -> id, one token per line of ``vocab.txt``.

    ``path`` is the model folder (default: :func:`embedlab.data.pretrained_model_path`) or
    the ``vocab.txt`` file itself.
    """
    if path is None:
        from .data import pretrained_model_path

        path = pretrained_model_path()
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be None, a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        path = path / "vocab.txt"
    if not path.exists():
        raise FileNotFoundError(f"no vocabulary file at {path}")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError(f"{path} lists some token twice")
    return vocab


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punctuation(ch: str) -> bool:
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def normalize(text: str, *, lowercase: bool = True) -> str:
    """Step 1: clean the text, space out CJK characters, strip accents, lower-case.

    With ``lowercase=False`` (a cased model) accents are kept too, as BERT's cased tokenizer
    does.
    """
    text = _check_text("text", text)
    if not isinstance(lowercase, bool):
        raise TypeError(f"lowercase must be True or False, got {lowercase!r}")
    if text.isascii():  # fast path: no accents, no CJK, no exotic white space
        text = text.translate(_ASCII_CLEAN)
        return text.lower() if lowercase else text
    out = []
    for ch in text:
        if ch in "\x00\ufffd" or (ch not in "\t\n\r" and unicodedata.category(ch)[0] == "C"):
            continue  # control, format, private-use, surrogate or unassigned: no text
        if ch.isspace():
            out.append(" ")
        elif _is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = "".join(out)
    if lowercase:
        text = "".join(ch for ch in unicodedata.normalize("NFD", text)
                       if unicodedata.category(ch) != "Mn")
        text = "".join(ch.lower() for ch in text)  # character by character, as BERT does
    return text


# ASCII control characters are dropped, tab, newline and carriage return become spaces.
_ASCII_CLEAN = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}
_ASCII_CLEAN.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})


def pre_tokenize(text: str) -> list[str]:
    """Step 2: split a normalised text at white space and around each punctuation mark."""
    text = _check_text("text", text)
    words, current = [], []
    for ch in text:
        if ch.isspace():
            if current:
                words.append("".join(current))
                current = []
        elif _is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def basic_tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Steps 1 and 2: the words that WordPiece then cuts into pieces."""
    return pre_tokenize(normalize(text, lowercase=lowercase))


def wordpiece(word: str, vocab, *, unk_token: str = "[UNK]", max_chars: int = 100,
              prefix: str = "##") -> list[str]:
    """Step 3: cut one word into the longest vocabulary pieces, left to right (greedy).

    Returns ``[unk_token]`` when some position starts no piece of the vocabulary, or when
    the word has more than ``max_chars`` characters. The empty word gives no token.
    """
    word = _check_text("word", word)
    if not hasattr(vocab, "__contains__") or isinstance(vocab, str):
        raise TypeError(f"vocab must be a dict or set of tokens, got {type(vocab).__name__}")
    max_chars = check_int("max_chars", max_chars, minimum=1)
    if len(word) > max_chars:
        return [unk_token]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:  # shrink the candidate from the right until it is known
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # nothing in the vocabulary starts here
            return [unk_token]
        pieces.append(piece)
        start = end
    return pieces


def fewest_pieces(word: str, vocab, *, prefix: str = "##") -> list[str] | None:
    """The cut of ``word`` into the fewest vocabulary pieces (not what BERT does).

    Dynamic programming over the end positions: ``best[i]`` is the fewest pieces that cover
    the characters ``i..n-1``, with ``best[n] = 0``. Among cuts with as few pieces, the one
    with the longest first piece is returned. ``None`` when no cut exists. Used to measure
    how often the greedy rule of :func:`wordpiece` needs more pieces than necessary.
    """
    word = _check_text("word", word)
    if not hasattr(vocab, "__contains__") or isinstance(vocab, str):
        raise TypeError(f"vocab must be a dict or set of tokens, got {type(vocab).__name__}")
    n = len(word)
    best = [0] + [None] * n  # best[k]: fewest pieces for the last k characters
    first = [None] * (n + 1)  # first[k]: length of the first piece of that cut
    for k in range(1, n + 1):
        start = n - k
        for length in range(k, 0, -1):  # longest first piece first
            piece = word[start:start + length]
            if start > 0:
                piece = prefix + piece
            rest = best[k - length]
            if piece in vocab and rest is not None and (best[k] is None or rest + 1 < best[k]):
                best[k], first[k] = rest + 1, length
    if n and best[n] is None:
        return None
    pieces, start = [], 0
    while start < n:
        length = first[n - start]
        piece = word[start:start + length]
        pieces.append(piece if start == 0 else prefix + piece)
        start += length
    return pieces


class WordPieceTokenizer:
    """BERT's uncased WordPiece tokenizer: text -> tokens -> ids, batches with masks.

    Parameters
    ----------
    vocab : token -> id, as returned by :func:`load_vocab`.
    lowercase : lower-case and strip accents (an *uncased* model, like all-MiniLM-L6-v2).
    max_chars : longer words become ``[UNK]``.

    Calling the tokenizer on a list of texts returns a dict with ``input_ids``,
    ``token_type_ids`` and ``attention_mask``, like a ``transformers`` tokenizer, so that it
    can replace one in :meth:`embedlab.bert.NumpyBert.encode`.
    """

    def __init__(self, vocab: dict, *, lowercase: bool = True, max_chars: int = 100):
        if not isinstance(vocab, dict) or not vocab:
            raise TypeError("vocab must be a non-empty dict of token -> id (see load_vocab)")
        missing = [t for t in SPECIAL_TOKENS if t not in vocab]
        if missing:
            raise ValueError(f"vocab lacks the special tokens {missing}")
        if not isinstance(lowercase, bool):
            raise TypeError(f"lowercase must be True or False, got {lowercase!r}")
        self.vocab = vocab
        self.lowercase = lowercase
        self.max_chars = check_int("max_chars", max_chars, minimum=1)
        self.ids_to_tokens = {i: t for t, i in vocab.items()}
        self.pad_token_id = vocab["[PAD]"]
        self.cls_token_id, self.sep_token_id = vocab["[CLS]"], vocab["[SEP]"]
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def from_pretrained(cls, path=None) -> "WordPieceTokenizer":
        """The tokenizer of a model folder (default: the packaged all-MiniLM-L6-v2)."""
        return cls(load_vocab(path))

    def __len__(self) -> int:
        return len(self.vocab)

    def _pieces(self, word: str) -> list[str]:
        pieces = self._cache.get(word)
        if pieces is None:
            pieces = wordpiece(word, self.vocab, max_chars=self.max_chars)
            if len(self._cache) < 200_000:
                self._cache[word] = pieces
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text``, without ``[CLS]`` and ``[SEP]``."""
        text = _check_text("text", text)
        tokens = []
        for i, part in enumerate(_SPECIAL_RE.split(text)):
            if i % 2:  # a special token written in the text
                tokens.append(part)
                continue
            for word in basic_tokenize(part, lowercase=self.lowercase):
                tokens.extend(self._pieces(word))
        return tokens

    def convert_tokens_to_ids(self, tokens):
        """Id of one token (a str) or list of ids of a list of tokens; unknown -> ``[UNK]``."""
        unk = self.vocab["[UNK]"]
        if isinstance(tokens, str):
            return self.vocab.get(tokens, unk)
        return [self.vocab.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        """Token of one id or list of tokens of a sequence of ids."""
        if isinstance(ids, (int, np.integer)):
            return self.ids_to_tokens[int(ids)]
        return [self.ids_to_tokens[int(i)] for i in ids]

    def encode(self, text: str, *, max_length: int | None = None) -> list[int]:
        """Ids of ``[CLS] tokens [SEP]``; with ``max_length`` the tokens are cut to fit."""
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if max_length is not None:
            max_length = check_int("max_length", max_length, minimum=2)
            ids = ids[:max_length - 2]
        return [self.cls_token_id, *ids, self.sep_token_id]

    def __call__(self, texts, *, padding: bool = False, truncation: bool = False,
                 max_length: int | None = None, return_tensors: str | None = None) -> dict:
        """Encode a list of texts (or one text) for the model.

        Returns ``input_ids``, ``token_type_ids`` (all 0: one segment) and ``attention_mask``
        (1 for real tokens, 0 for padding). ``padding=True`` pads on the right to the longest
        text; ``truncation=True`` cuts texts to ``max_length`` tokens (the model's 512 by
        default); ``return_tensors="np"`` returns 2-D NumPy arrays (which needs padding or
        texts of equal length), otherwise lists.
        """
        single = isinstance(texts, str)
        if single:
            texts = [texts]
        if not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a string or a list of strings, got "
                            f"{type(texts).__name__}")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a string, got {type(t).__name__}")
        for name, flag in (("padding", padding), ("truncation", truncation)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors must be None or 'np', got {return_tensors!r}")
        limit = None
        if truncation:
            limit = 512 if max_length is None else check_int("max_length", max_length, minimum=2)
        ids = [self.encode(t, max_length=limit) for t in texts]
        masks = [[1] * len(row) for row in ids]
        if padding:
            width = max(len(row) for row in ids)
            ids = [row + [self.pad_token_id] * (width - len(row)) for row in ids]
            masks = [m + [0] * (width - len(m)) for m in masks]
        types = [[0] * len(row) for row in ids]
        out = {"input_ids": ids, "token_type_ids": types, "attention_mask": masks}
        if return_tensors == "np":
            if len({len(row) for row in ids}) > 1:
                raise ValueError("texts have different lengths: use padding=True for arrays")
            out = {k: np.array(v, dtype=np.int64) for k, v in out.items()}
        elif single:
            out = {k: v[0] for k, v in out.items()}
        return out
