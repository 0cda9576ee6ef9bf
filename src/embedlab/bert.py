r"""The BERT encoder, forward pass only, in NumPy: a stack of Chapter 7's encoder blocks.

BERT (Devlin et al., 2019) is the encoder half of the Transformer (Vaswani et al., 2017).
A sentence is split into WordPiece tokens (:mod:`embedlab.wordpiece`), framed as
``[CLS] tokens [SEP]`` and padded to the length :math:`T` of the longest sentence in the
batch. With an attention mask :math:`m \in \{0, 1\}^T` (1 for a real token, 0 for padding)
the encoder computes:

**Embeddings.** Token :math:`t` with id :math:`w_t` and segment :math:`s_t` becomes

.. math::

    h^{(0)}_t = \operatorname{LN}\big(E^{\text{word}}_{w_t} + E^{\text{type}}_{s_t} + E^{\text{pos}}_t\big),
    \qquad
    \operatorname{LN}(x) = \gamma \odot \frac{x - \mu(x)}{\sqrt{\sigma^2(x) + \varepsilon}} + \beta,

where :math:`\mu` and :math:`\sigma^2` are the mean and (biased) variance over the
:math:`d` features of one token (layer normalisation, Ba et al., 2016), with
:math:`\varepsilon = 10^{-12}`.

**Encoder layers.** Each of the :math:`L` layers is the post-norm encoder block of
:class:`embedlab.attention.TransformerEncoderBlock` with the GELU activation:

.. math::

    a &= \operatorname{LN}\big(H + \operatorname{MHA}(H)\big) \\
    H' &= \operatorname{LN}\big(a + \operatorname{GELU}(a W_1^\top + b_1) W_2^\top + b_2\big),
    \qquad \operatorname{GELU}(x) = x\,\Phi(x) = \tfrac{x}{2}\big(1 + \operatorname{erf}(x/\sqrt 2)\big)

with :math:`\Phi` the standard normal CDF (Hendrycks and Gimpel, 2016). In multi-head
self-attention with :math:`n_h` heads of width :math:`d_h = d / n_h`, head :math:`j`
computes

.. math::

    A_j = \operatorname{softmax}\Big(\frac{Q_j K_j^\top}{\sqrt{d_h}} + M\Big) V_j,
    \qquad M_{tu} = \begin{cases} 0 & m_u = 1 \\ -\infty & m_u = 0 \end{cases}

so that no token reads a padding position. The mask depends only on the key :math:`u`:
every token sees every real token, before and after it (a *bidirectional* encoder). A
decoder such as GPT (Radford et al., 2018) also sets :math:`M_{tu} = -\infty` for
:math:`u > t` (a *causal* mask). :func:`attention_allowed` builds both.

The encoder returns :math:`h^{(0)}, \dots, h^{(L)}`: the hidden state of every token after
every layer.

**Pooling** turns the :math:`T` token vectors of a sentence into one vector: the first
token (``[CLS]``), the mean over the real tokens
:math:`\bar h = \sum_t m_t h_t / \sum_t m_t` (what the sentence-transformers fine-tune
all-MiniLM-L6-v2 was trained with; Reimers and Gurevych, 2019), or that mean taken over
the average of the last few layers.

Dropout is off at inference, so the pass is deterministic and can be compared with
``transformers.BertModel`` number by number. In float64 the two agree to about
:math:`10^{-13}`. In float32 they agree on real tokens to a few :math:`10^{-6}`; the
vectors at *padding* positions are much less well determined in float32 (for any
implementation, ``transformers`` included), because one feature of their feed-forward
output is the small difference of large terms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import check_array, check_choice, check_int
from .attention import TransformerEncoderBlock, _gelu, _layer_norm

__all__ = [
    "BertConfig", "NumpyBert", "load_tokenizer", "attention_allowed", "layer_norm", "gelu",
    "cls_pooling", "mean_pooling", "last_layers_pooling", "pool", "POOLING_METHODS",
]

POOLING_METHODS = ("cls", "mean", "last_layers")
_DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT encoder, read from the model's ``config.json``."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, path) -> "BertConfig":
        """Read ``config.json`` (a file, or the folder that holds it)."""
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no BERT config at {path}")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type", "bert") != "bert":
            raise ValueError(f"{path} describes a {raw.get('model_type')!r} model, not 'bert'")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"only the exact GELU activation is implemented, {path} asks for "
                             f"{raw.get('hidden_act')!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are implemented")
        fields = {name: raw[name] for name in cls.__dataclass_fields__ if name != "layer_norm_eps"}
        cfg = cls(**fields, layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)))
        if cfg.hidden_size % cfg.num_attention_heads:
            raise ValueError(f"hidden_size {cfg.hidden_size} is not a multiple of "
                             f"num_attention_heads {cfg.num_attention_heads}")
        return cfg


def _model_dir(path) -> Path:
    if path is None:
        from .data import pretrained_model_path

        return pretrained_model_path()
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be None, a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} has no config.json: it is not a model folder")
    return path


def load_tokenizer(path=None):
    """The WordPiece tokenizer of the pretrained model, loaded offline with ``transformers``.

    ``path`` defaults to :func:`embedlab.data.pretrained_model_path`.
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_model_dir(path)))


def layer_norm(x, gamma, beta, eps: float = 1e-12) -> np.ndarray:
    """Normalise the last axis of ``x`` to mean 0 and variance 1, then scale and shift.

    Chapter 7's layer norm (:func:`embedlab.attention.layer_norm`) without its argument checks,
    keeping the dtype of ``x``, with BERT's epsilon.
    """
    return _layer_norm(np.asarray(x), gamma, beta, eps)


def gelu(x) -> np.ndarray:
    """Exact GELU, ``x * Phi(x)``, keeping the dtype of ``x`` (Chapter 7's, unchecked)."""
    return _gelu(np.asarray(x))


def _check_mask(attention_mask, shape: tuple[int, int]) -> np.ndarray:
    mask = check_array("attention_mask", attention_mask, ndim=2, dtype=None)
    if mask.dtype == object or not (np.issubdtype(mask.dtype, np.number) or mask.dtype == bool):
        raise TypeError(f"attention_mask must hold 0/1 values, got dtype {mask.dtype}")
    if mask.shape != shape:
        raise ValueError(f"attention_mask must have shape {shape}, got {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("attention_mask must hold only 0 (padding) and 1 (real token)")
    mask = mask.astype(bool)
    if mask.shape[1] and not np.all(mask.any(axis=1)):
        row = int(np.flatnonzero(~mask.any(axis=1))[0])
        raise ValueError(f"attention_mask row {row} is all zeros: a sentence needs a real token")
    return mask


def attention_allowed(attention_mask, *, causal: bool = False) -> np.ndarray:
    """Boolean ``(B, T, T)`` array: may query token t read key token u?

    ``attention_mask`` is ``(B, T)`` with 1 for real tokens and 0 for padding. An encoder
    (``causal=False``) lets every token read every real token; a decoder (``causal=True``)
    also forbids reading tokens to the right (u > t). The encoder blocks build the same
    array from the mask and their ``causal`` flag.
    """
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {type(causal).__name__}")
    mask = check_array("attention_mask", attention_mask, ndim=2, dtype=None)
    mask = _check_mask(mask, mask.shape)
    allowed = np.broadcast_to(mask[:, None, :], (mask.shape[0], mask.shape[1], mask.shape[1]))
    if causal:
        allowed = allowed & np.tri(mask.shape[1], dtype=bool)[None]
    return np.ascontiguousarray(allowed)


class NumpyBert:
    """A BERT encoder in NumPy: embeddings, then a stack of :class:`TransformerEncoderBlock`.

    Parameters
    ----------
    weights : dict of name -> array, with the names of ``transformers``' ``BertModel``
        state dict (``embeddings.word_embeddings.weight``, ``encoder.layer.0...``).
    config : the sizes, a :class:`BertConfig`.
    dtype : ``"float32"`` (fast, as ``transformers`` runs) or ``"float64"``.

    Attributes: ``word``, ``pos``, ``type`` (the three embedding tables), ``emb_ln`` (gain
    and bias of the embedding layer norm) and ``blocks``, one post-norm, GELU encoder block
    of Chapter 7 per layer, holding that layer's weights.
    """

    def __init__(self, weights: dict, config: BertConfig, *, dtype: str = "float32"):
        if not isinstance(weights, dict):
            raise TypeError(f"weights must be a dict of name -> array, got {type(weights).__name__}")
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        check_choice("dtype", dtype, _DTYPES)
        self.config = config
        self.dtype = _DTYPES[dtype]
        self.path: Path | None = None
        d = config.hidden_size

        def get(name, shape):
            if name not in weights:
                raise ValueError(f"weights has no {name!r}: not a BertModel state dict")
            arr = np.asarray(weights[name])
            if arr.shape != shape:
                raise ValueError(f"weight {name!r} has shape {arr.shape}, expected {shape}")
            return np.ascontiguousarray(arr, dtype=self.dtype)

        e = "embeddings."
        self.word = get(e + "word_embeddings.weight", (config.vocab_size, d))
        self.pos = get(e + "position_embeddings.weight", (config.max_position_embeddings, d))
        self.type = get(e + "token_type_embeddings.weight", (config.type_vocab_size, d))
        self.emb_ln = (get(e + "LayerNorm.weight", (d,)), get(e + "LayerNorm.bias", (d,)))
        self.blocks = [self._load_block(f"encoder.layer.{i}.", get, dtype)
                       for i in range(config.num_hidden_layers)]

    def _load_block(self, prefix: str, get, dtype: str) -> TransformerEncoderBlock:
        """One BERT layer as Chapter 7's encoder block: post-norm, GELU, BERT's epsilon.

        ``transformers`` stores every linear map as ``(out, in)``, the layout of the block.
        """
        cfg = self.config
        d, f = cfg.hidden_size, cfg.intermediate_size
        block = TransformerEncoderBlock(d, cfg.num_attention_heads, f, activation="gelu",
                                        norm_first=False, eps=cfg.layer_norm_eps, dtype=dtype)
        att, a = block.attn, prefix + "attention."
        att.w_q, att.b_q = get(a + "self.query.weight", (d, d)), get(a + "self.query.bias", (d,))
        att.w_k, att.b_k = get(a + "self.key.weight", (d, d)), get(a + "self.key.bias", (d,))
        att.w_v, att.b_v = get(a + "self.value.weight", (d, d)), get(a + "self.value.bias", (d,))
        att.w_o, att.b_o = get(a + "output.dense.weight", (d, d)), get(a + "output.dense.bias", (d,))
        block.ln1_gamma = get(a + "output.LayerNorm.weight", (d,))
        block.ln1_beta = get(a + "output.LayerNorm.bias", (d,))
        block.w1 = get(prefix + "intermediate.dense.weight", (f, d))
        block.b1 = get(prefix + "intermediate.dense.bias", (f,))
        block.w2 = get(prefix + "output.dense.weight", (d, f))
        block.b2 = get(prefix + "output.dense.bias", (d,))
        block.ln2_gamma = get(prefix + "output.LayerNorm.weight", (d,))
        block.ln2_beta = get(prefix + "output.LayerNorm.bias", (d,))
        return block

    @classmethod
    def from_pretrained(cls, path=None, *, dtype: str = "float32") -> "NumpyBert":
        """Read ``config.json`` and ``model.safetensors`` from a model folder.

        ``path`` defaults to the packaged all-MiniLM-L6-v2
        (:func:`embedlab.data.pretrained_model_path`).
        """
        from safetensors.numpy import load_file

        folder = _model_dir(path)
        config = BertConfig.from_json(folder)
        file = folder / "model.safetensors"
        if not file.exists():
            raise FileNotFoundError(f"{folder} has no model.safetensors")
        model = cls(load_file(str(file)), config, dtype=dtype)
        model.path = folder
        return model

    @property
    def num_layers(self) -> int:
        """Number of encoder layers L (the forward pass returns L + 1 hidden states)."""
        return self.config.num_hidden_layers

    def _check_inputs(self, input_ids, attention_mask, token_type_ids):
        ids = check_array("input_ids", input_ids, ndim=2, dtype=int)
        n, t = ids.shape
        if n == 0 or t == 0:
            raise ValueError(f"input_ids must hold at least one token per row, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            raise ValueError(f"input_ids must lie in [0, {self.config.vocab_size - 1}], got values "
                             f"from {ids.min()} to {ids.max()}")
        if t > self.config.max_position_embeddings:
            raise ValueError(f"sequences have {t} tokens, the model knows only "
                             f"{self.config.max_position_embeddings} positions: truncate them")
        mask = np.ones((n, t), dtype=bool) if attention_mask is None else _check_mask(attention_mask, (n, t))
        if token_type_ids is None:
            types = np.zeros((n, t), dtype=np.int64)
        else:
            types = check_array("token_type_ids", token_type_ids, ndim=2, dtype=int)
            if types.shape != (n, t):
                raise ValueError(f"token_type_ids must have shape {(n, t)}, got {types.shape}")
            if types.min() < 0 or types.max() >= self.config.type_vocab_size:
                raise ValueError(f"token_type_ids must lie in [0, {self.config.type_vocab_size - 1}]")
        return ids, mask, types

    def embed(self, input_ids, token_type_ids) -> np.ndarray:
        """Layer 0: word + segment + position embeddings, layer-normalised. ``(B, T, d)``."""
        t = input_ids.shape[1]
        x = self.word[input_ids] + self.type[token_type_ids]
        x += self.pos[:t][None]  # the order of transformers: float sums are not associative
        return layer_norm(x, *self.emb_ln, self.config.layer_norm_eps)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, *,
                causal: bool = False) -> list[np.ndarray]:
        """Hidden states of every layer: a list of ``L + 1`` arrays of shape ``(B, T, d)``.

        Element 0 is the embedding layer, element ``L`` the output of the last layer, like
        ``transformers``' ``output_hidden_states``. ``attention_mask`` (1 real, 0 padding)
        defaults to all ones and ``token_type_ids`` to all zeros. ``causal=True`` runs the
        same weights with a decoder's mask, each token reading only itself and the tokens
        to its left. BERT was not trained that way: use it to see what the mask changes,
        not to get good vectors.
        """
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {type(causal).__name__}")
        ids, mask, types = self._check_inputs(input_ids, attention_mask, token_type_ids)
        h = self.embed(ids, types)
        states = [h]
        for block in self.blocks:  # BERT is a stack of encoder blocks
            h = block(h, key_mask=mask, causal=causal)
            states.append(h)
        return states

    __call__ = forward

    def attention_weights(self, input_ids, attention_mask=None, token_type_ids=None, *,
                          causal: bool = False) -> list[np.ndarray]:
        """Attention weights of every layer: ``L`` arrays of shape ``(B, heads, T, T)``."""
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {type(causal).__name__}")
        ids, mask, types = self._check_inputs(input_ids, attention_mask, token_type_ids)
        h = self.embed(ids, types)
        out = []
        for block in self.blocks:
            out.append(block.self_attention(h, key_mask=mask, causal=causal, return_weights=True)[1])
            h = block(h, key_mask=mask, causal=causal)
        return out

    def encode(self, texts: Sequence[str], tokenizer=None, *, method: str = "mean",
               n_layers: int = 4, normalize: bool = True, max_length: int = 256,
               batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """One vector per text: tokenize, run :meth:`forward`, pool (see :func:`pool`).

        ``tokenizer`` is a :class:`embedlab.wordpiece.WordPieceTokenizer` or a
        ``transformers`` tokenizer; ``None`` means the WordPiece tokenizer of the folder the
        model was loaded from. Texts longer than ``max_length`` tokens are truncated
        (all-MiniLM-L6-v2 was trained on at most 256). Texts are batched in order of length,
        so that a batch holds little padding; the rows come back in the order of ``texts``.
        With ``normalize`` every row has unit length.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}")
        if not texts:
            raise ValueError("texts is empty")
        for i, s in enumerate(texts):
            if not isinstance(s, str):
                raise TypeError(f"texts[{i}] must be a string, got {type(s).__name__}")
        if tokenizer is None:
            if self.path is None:
                raise ValueError("this model was not loaded from a folder: pass a tokenizer")
            from .wordpiece import WordPieceTokenizer

            tokenizer = WordPieceTokenizer.from_pretrained(self.path)
        if not callable(tokenizer):
            raise TypeError("tokenizer must be a WordPieceTokenizer or a transformers tokenizer")
        check_choice("method", method, POOLING_METHODS)
        n_layers = check_int("n_layers", n_layers, minimum=1, maximum=self.num_layers + 1)
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be True or False, got {type(normalize).__name__}")
        max_length = check_int("max_length", max_length, minimum=2,
                               maximum=self.config.max_position_embeddings)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        from tqdm.auto import tqdm

        # Batch texts of similar length together: less padding, less wasted arithmetic.
        lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True,
                                                  max_length=max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        vecs = np.empty((len(texts), self.config.hidden_size))
        for start in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="encode"):
            rows = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                            max_length=max_length, return_tensors="np")
            states = self.forward(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
            vecs[rows] = pool(states, enc["attention_mask"], method=method, n_layers=n_layers)
        if normalize:
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs


def _check_hidden(name: str, hidden) -> np.ndarray:
    arr = check_array(name, hidden, ndim=3)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one sentence and one token, got {arr.shape}")
    return arr


def cls_pooling(hidden, attention_mask) -> np.ndarray:
    """The vector of the first token (``[CLS]``) of each sentence: ``(B, T, d) -> (B, d)``."""
    hidden = _check_hidden("hidden", hidden)
    mask = _check_mask(attention_mask, hidden.shape[:2])
    if not np.all(mask[:, 0]):
        raise ValueError("attention_mask marks the first token as padding: pad on the right")
    return hidden[:, 0].copy()


def mean_pooling(hidden, attention_mask) -> np.ndarray:
    """Mean of the real (unmasked) token vectors of each sentence: ``(B, T, d) -> (B, d)``."""
    hidden = _check_hidden("hidden", hidden)
    mask = _check_mask(attention_mask, hidden.shape[:2]).astype(hidden.dtype)
    return np.einsum("btd,bt->bd", hidden, mask) / mask.sum(axis=1, keepdims=True)


def last_layers_pooling(hidden_states, attention_mask, n_layers: int = 4) -> np.ndarray:
    """Mean pooling of the average of the last ``n_layers`` hidden states.

    ``hidden_states`` is the list returned by :meth:`NumpyBert.forward` (or an array of
    shape ``(L + 1, B, T, d)``).
    """
    if isinstance(hidden_states, np.ndarray) and hidden_states.ndim == 4:
        hidden_states = list(hidden_states)
    if not isinstance(hidden_states, (list, tuple)) or not hidden_states:
        raise TypeError("hidden_states must be a non-empty list of (B, T, d) arrays")
    n_layers = check_int("n_layers", n_layers, minimum=1, maximum=len(hidden_states))
    last = [_check_hidden(f"hidden_states[{i}]", h)
            for i, h in enumerate(hidden_states[-n_layers:], start=len(hidden_states) - n_layers)]
    if len({h.shape for h in last}) > 1:
        raise ValueError("hidden_states must all have the same shape")
    return mean_pooling(np.mean(last, axis=0), attention_mask)


def pool(hidden_states, attention_mask, method: str = "mean", n_layers: int = 4) -> np.ndarray:
    """Sentence vectors from the list of hidden states of :meth:`NumpyBert.forward`.

    ``method`` is ``"cls"`` (first token of the last layer), ``"mean"`` (mean of the real
    tokens of the last layer) or ``"last_layers"`` (:func:`last_layers_pooling`).
    """
    check_choice("method", method, POOLING_METHODS)
    if not isinstance(hidden_states, (list, tuple)) or not hidden_states:
        raise TypeError("hidden_states must be a non-empty list of (B, T, d) arrays")
    if method == "cls":
        return cls_pooling(hidden_states[-1], attention_mask)
    if method == "mean":
        return mean_pooling(hidden_states[-1], attention_mask)
    return last_layers_pooling(hidden_states, attention_mask, n_layers)
