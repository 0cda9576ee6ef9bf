"""Tests of embedlab.bert: the NumPy BERT forward pass against transformers' BertModel."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from embedlab import bert  # noqa: E402
from embedlab.attention import TransformerEncoderBlock  # noqa: E402
from embedlab.data import pretrained_model_path  # noqa: E402

# Sentences of very different lengths, so that the batch carries a lot of padding.
SENTENCES = [
    "Hi.",
    "The fisherman sat on the muddy bank of the river and watched the water.",
    "She paid the cheque into her account at the bank.",
    "Unbelievably, the tokenizer splits uncommon words like 'embeddings' into pieces!",
    "A transformer encoder reads every token of the sentence in both directions at once, "
    "so the vector of each word depends on the words to its left and to its right.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return bert.load_tokenizer()


@pytest.fixture(scope="module")
def reference():
    model = transformers.AutoModel.from_pretrained(str(pretrained_model_path()))
    return model.eval()


@pytest.fixture(scope="module")
def ours32():
    return bert.NumpyBert.from_pretrained(dtype="float32")


@pytest.fixture(scope="module")
def ours64():
    return bert.NumpyBert.from_pretrained(dtype="float64")


@pytest.fixture(scope="module")
def batch(tokenizer):
    return tokenizer(SENTENCES, padding=True, return_tensors="np")


def _weights():
    from safetensors.numpy import load_file

    return load_file(str(pretrained_model_path() / "model.safetensors"))


def _reference_states(model, enc, dtype=torch.float32):
    model = model.to(dtype)
    with torch.inference_mode():
        out = model(**{k: torch.from_numpy(np.asarray(v)) for k, v in enc.items()},
                    output_hidden_states=True)
    model.to(torch.float32)
    return [h.numpy() for h in out.hidden_states], out


def test_config_matches_transformers(reference):
    cfg = bert.BertConfig.from_json(pretrained_model_path())
    ref = reference.config
    assert cfg.hidden_size == ref.hidden_size
    assert cfg.num_hidden_layers == ref.num_hidden_layers
    assert cfg.num_attention_heads == ref.num_attention_heads
    assert cfg.intermediate_size == ref.intermediate_size
    assert cfg.vocab_size == ref.vocab_size
    assert cfg.layer_norm_eps == ref.layer_norm_eps


def test_the_model_is_a_stack_of_chapter_7_blocks(ours32):
    assert len(ours32.blocks) == ours32.config.num_hidden_layers
    for block in ours32.blocks:
        assert isinstance(block, TransformerEncoderBlock)
        assert (block.activation, block.norm_first, block.eps) == ("gelu", False, 1e-12)
        assert block.dtype == np.float32 and block.w1.dtype == np.float32
        assert block.attn.num_heads == ours32.config.num_attention_heads


def test_every_layer_matches_transformers_float32(ours32, reference, batch):
    """Real tokens agree to 1e-4 on every layer (a few 1e-6 measured).

    Padding positions are compared in float64 below, not here: a few of them are so
    sensitive to rounding (see test_padding_positions_are_ill_conditioned) that transformers'
    own float32 pass lies about 1e-4 from its float64 pass there, so no float32 code that
    rounds differently can match it at 1e-4.
    """
    mask = batch["attention_mask"].astype(bool)
    assert (~mask).any(), "the batch must contain padding"
    states = ours32.forward(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    ref, _ = _reference_states(reference, batch)
    assert len(states) == len(ref) == reference.config.num_hidden_layers + 1
    for i, (a, b) in enumerate(zip(states, ref)):
        assert a.shape == b.shape
        assert a.dtype == np.float32
        assert np.max(np.abs(a - b)[mask]) < 1e-4, f"layer {i}"


def test_every_layer_matches_transformers_float64(ours64, reference, batch):
    """Every position, padding included: the arithmetic is the same, only rounding differs."""
    states = ours64.forward(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    ref, _ = _reference_states(reference, batch, torch.float64)
    for i, (a, b) in enumerate(zip(states, ref)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=f"layer {i}")


def test_padding_positions_are_ill_conditioned(ours64, batch):
    """Why padding is left out of the float32 comparison: nudge every layer-0 vector by a
    random 1e-7 (the size of float32 rounding); the last layer moves far more at some
    padding positions than at any real token."""
    mask = batch["attention_mask"].astype(bool)
    h0 = ours64.forward(batch["input_ids"], batch["attention_mask"])[0]
    noise = np.random.default_rng(0).normal(size=h0.shape) * 1e-7

    def last(h):
        for block in ours64.blocks:
            h = block(h, key_mask=mask)
        return h

    moved = np.linalg.norm(last(h0 + noise) - last(h0), axis=-1) / np.linalg.norm(noise, axis=-1)
    assert moved[~mask].max() > 5 * moved[mask].max()


def test_causal_mask_matches_transformers_decoder(ours32, ours64, batch):
    """BertModel with is_decoder=True applies a causal mask: our causal=True must agree."""
    model = transformers.AutoModel.from_pretrained(str(pretrained_model_path()), is_decoder=True)
    model = model.eval()
    assert model.config.is_decoder
    mask = batch["attention_mask"].astype(bool)
    enc = {k: batch[k] for k in ("input_ids", "attention_mask")}
    states = ours32.forward(batch["input_ids"], batch["attention_mask"], causal=True)
    ref, _ = _reference_states(model, enc)
    for i, (a, b) in enumerate(zip(states, ref)):
        assert np.max(np.abs(a - b)[mask]) < 1e-4, f"layer {i}"
    states64 = ours64.forward(batch["input_ids"], batch["attention_mask"], causal=True)
    ref64, _ = _reference_states(model, enc, torch.float64)
    for i, (a, b) in enumerate(zip(states64, ref64)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=f"layer {i}")
    # and it differs from the bidirectional pass from layer 1 on
    both = ours32.forward(batch["input_ids"], batch["attention_mask"])
    assert np.max(np.abs(both[1] - states[1])) > 0.1


def test_causal_vectors_ignore_the_right_context(ours32, tokenizer):
    enc = tokenizer(["the bank of the river", "the bank of the city"], return_tensors="np")
    causal = ours32.forward(enc["input_ids"], causal=True)[-1]
    both = ours32.forward(enc["input_ids"])[-1]
    # tokens 0..3 are "[CLS] the bank of" in both sentences
    np.testing.assert_allclose(causal[0, :4], causal[1, :4], atol=1e-5)
    assert np.max(np.abs(both[0, :4] - both[1, :4])) > 0.01


def test_sentence_pairs_with_segments(ours32, reference, tokenizer):
    enc = tokenizer(["Where is the bank?", "Is it far?"], ["By the river, past the bridge.", "No."],
                    padding=True, return_tensors="np")
    assert enc["token_type_ids"].max() == 1
    states = ours32.forward(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    ref, _ = _reference_states(reference, enc)
    real = enc["attention_mask"].astype(bool)
    assert (~real).any()
    assert max(np.max(np.abs(a - b)[real]) for a, b in zip(states, ref)) < 1e-4


def test_padding_does_not_change_real_tokens(ours32, tokenizer, batch):
    """A sentence alone and the same sentence padded in a batch give the same vectors."""
    alone = tokenizer([SENTENCES[2]], return_tensors="np")
    n = alone["input_ids"].shape[1]
    solo = ours32.forward(alone["input_ids"], alone["attention_mask"])[-1][0]
    padded = ours32.forward(batch["input_ids"], batch["attention_mask"])[-1][2, :n]
    assert np.max(np.abs(solo - padded)) < 1e-4


def test_defaults_are_all_ones_mask_and_segment_zero(ours32, tokenizer):
    enc = tokenizer(["the river bank"], return_tensors="np")
    a = ours32.forward(enc["input_ids"])
    b = ours32.forward(enc["input_ids"], np.ones_like(enc["input_ids"]),
                       np.zeros_like(enc["input_ids"]))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_attention_weights_match_transformers(ours32, reference, batch):
    weights = ours32.attention_weights(batch["input_ids"], batch["attention_mask"])
    model = transformers.AutoModel.from_pretrained(str(pretrained_model_path()),
                                                   attn_implementation="eager").eval()
    with torch.inference_mode():
        out = model(input_ids=torch.from_numpy(batch["input_ids"]),
                    attention_mask=torch.from_numpy(batch["attention_mask"]),
                    output_attentions=True)
    assert len(weights) == len(out.attentions)
    mask = batch["attention_mask"].astype(bool)
    for w, r in zip(weights, out.attentions):
        assert w.shape == tuple(r.shape)
        np.testing.assert_allclose(w, r.numpy(), atol=1e-5)
        # no weight on padding keys, rows sum to one
        assert np.all(w[~np.broadcast_to(mask[:, None, None, :], w.shape)] == 0)
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-5)


def test_layer_norm_and_gelu_match_torch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7, 16))
    gamma, beta = rng.normal(size=16), rng.normal(size=16)
    ref = torch.nn.functional.layer_norm(torch.from_numpy(x), (16,), torch.from_numpy(gamma),
                                         torch.from_numpy(beta), eps=1e-12).numpy()
    np.testing.assert_allclose(bert.layer_norm(x, gamma, beta, 1e-12), ref, atol=1e-12)
    ref = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(bert.gelu(x), ref, atol=1e-12)


def test_float32_gelu_is_accurate_and_keeps_its_dtype():
    """float32 GELU uses a polynomial error function: as accurate as float32 allows."""
    x = np.concatenate([np.linspace(-12, 12, 20001), [0.0, -0.0, 1e-30, -1e-30]])
    exact = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()  # float64 reference
    x32 = x.astype(np.float32)
    out = bert.gelu(x32)
    assert out.dtype == np.float32 and out.shape == x.shape
    # about 4 float32 units in the last place of values up to 12
    assert np.max(np.abs(out - exact)) < 1e-6
    np.testing.assert_allclose(out[np.abs(x) < 3], exact[np.abs(x) < 3], atol=3e-7)
    # a non-contiguous input and a 3-D input give the same numbers
    grid = x32[:20000].reshape(100, 200)
    np.testing.assert_array_equal(bert.gelu(grid.T), bert.gelu(grid).T)
    assert np.all(np.isfinite(bert.gelu(np.array([-1e30, 1e30], dtype=np.float32))))


def test_attention_allowed_masks():
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    enc = bert.attention_allowed(mask)
    assert enc.shape == (2, 4, 4)
    np.testing.assert_array_equal(enc[0], np.tile([True, True, True, False], (4, 1)))
    dec = bert.attention_allowed(mask, causal=True)
    np.testing.assert_array_equal(dec[0], np.tril(enc[0]))
    assert not dec[0][0, 1] and enc[0][0, 1]
    # torch's own causal convention: position t attends to keys 0..t
    ref = torch.ones(4, 4, dtype=torch.bool).tril().numpy()
    np.testing.assert_array_equal(bert.attention_allowed(np.ones((1, 4)), causal=True)[0], ref)


def test_pooling_matches_reference_torch_code(ours32, reference, batch):
    mask = batch["attention_mask"]
    states = ours32.forward(batch["input_ids"], mask)
    ref, out = _reference_states(reference, batch)
    np.testing.assert_allclose(bert.pool(states, mask, "cls"), ref[-1][:, 0], atol=1e-4)
    # mean over the real tokens, one sentence at a time, with torch
    lengths = mask.sum(axis=1)
    expected = np.stack([out.last_hidden_state[i, :n].mean(dim=0).numpy()
                         for i, n in enumerate(lengths)])
    np.testing.assert_allclose(bert.pool(states, mask, "mean"), expected, atol=1e-4)
    last4 = torch.stack(out.hidden_states[-4:]).mean(dim=0)
    expected = np.stack([last4[i, :n].mean(dim=0).numpy() for i, n in enumerate(lengths)])
    np.testing.assert_allclose(bert.pool(states, mask, "last_layers", n_layers=4), expected, atol=1e-4)
    np.testing.assert_allclose(bert.pool(states, mask, "last_layers", n_layers=1),
                               bert.pool(states, mask, "mean"), atol=1e-6)


def test_encode_matches_sentence_transformers(ours32, tokenizer):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(pretrained_model_path()), device="cpu")
    ref = model.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
    vecs = ours32.encode(SENTENCES, tokenizer, batch_size=2)
    assert vecs.shape == ref.shape
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vecs, ref, atol=1e-5)
    # our own WordPiece tokenizer (the default) gives the same vectors
    np.testing.assert_allclose(ours32.encode(SENTENCES, batch_size=3), ref, atol=1e-5)


# ---------------------------------------------------------------- argument checks

def test_bad_constructor_arguments(ours32, tmp_path):
    cfg = ours32.config
    with pytest.raises(TypeError, match="weights must be a dict"):
        bert.NumpyBert([1, 2], cfg)
    with pytest.raises(TypeError, match="config must be a BertConfig"):
        bert.NumpyBert({}, {"hidden_size": 384})
    with pytest.raises(ValueError, match="dtype must be one of"):
        bert.NumpyBert({}, cfg, dtype="float16")
    with pytest.raises(ValueError, match="weights has no 'embeddings.word_embeddings.weight'"):
        bert.NumpyBert({}, cfg)
    with pytest.raises(ValueError, match="has shape"):
        bert.NumpyBert({"embeddings.word_embeddings.weight": np.zeros((3, 3))}, cfg)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        bert.NumpyBert.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="path must be None, a str or a Path"):
        bert.NumpyBert.from_pretrained(3)
    with pytest.raises(FileNotFoundError, match="no BERT config"):
        bert.BertConfig.from_json(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="not 'bert'"):
        bert.BertConfig.from_json(tmp_path)


def test_bad_forward_arguments(ours32):
    ids = np.array([[101, 2924, 102]])
    with pytest.raises(ValueError, match="input_ids must be 2-D"):
        ours32.forward(np.array([101, 102]))
    with pytest.raises(TypeError, match="input_ids must hold integers"):
        ours32.forward(ids.astype(float))
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 30521\]"):
        ours32.forward(np.array([[101, 30522, 102]]))
    with pytest.raises(ValueError, match="input_ids must lie in"):
        ours32.forward(np.array([[-1, 5, 102]]))
    with pytest.raises(ValueError, match="at least one token"):
        ours32.forward(np.zeros((1, 0), dtype=int))
    with pytest.raises(ValueError, match="only 512 positions"):
        ours32.forward(np.full((1, 513), 1000))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(1, 3\)"):
        ours32.forward(ids, np.ones((1, 4)))
    with pytest.raises(ValueError, match="only 0 .padding. and 1"):
        ours32.forward(ids, np.array([[1, 2, 1]]))
    with pytest.raises(ValueError, match="row 0 is all zeros"):
        ours32.forward(ids, np.zeros((1, 3)))
    with pytest.raises(TypeError, match="attention_mask must"):
        ours32.forward(ids, np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="token_type_ids must have shape"):
        ours32.forward(ids, None, np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match=r"token_type_ids must lie in \[0, 1\]"):
        ours32.forward(ids, None, np.array([[0, 2, 0]]))
    with pytest.raises(TypeError, match="causal must be True or False"):
        bert.attention_allowed(np.ones((1, 3)), causal=1)
    with pytest.raises(TypeError, match="causal must be True or False"):
        ours32.forward(ids, causal="yes")
    with pytest.raises(TypeError, match="causal must be True or False"):
        ours32.attention_weights(ids, causal=None)


def test_bad_pooling_and_encode_arguments(ours32, tokenizer):
    h = np.zeros((2, 3, 4))
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="hidden must be 3-D"):
        bert.mean_pooling(np.zeros((3, 4)), mask)
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(2, 3\)"):
        bert.mean_pooling(h, np.ones((2, 4)))
    with pytest.raises(ValueError, match="pad on the right"):
        bert.cls_pooling(h, np.array([[0, 1, 1], [1, 1, 1]]))
    with pytest.raises(ValueError, match="method must be one of"):
        bert.pool([h], mask, method="max")
    with pytest.raises(TypeError, match="hidden_states must be a non-empty list"):
        bert.pool([], mask)
    with pytest.raises(TypeError, match="hidden_states must be a non-empty list"):
        bert.last_layers_pooling(h, mask)
    with pytest.raises(ValueError, match="n_layers must be <= 2"):
        bert.last_layers_pooling([h, h], mask, n_layers=3)
    with pytest.raises(ValueError, match="same shape"):
        bert.last_layers_pooling([h, np.zeros((2, 3, 5))], mask, n_layers=2)
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        ours32.encode("one sentence", tokenizer)
    with pytest.raises(ValueError, match="texts is empty"):
        ours32.encode([], tokenizer)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string"):
        ours32.encode(["a", 3], tokenizer)
    with pytest.raises(TypeError, match="tokenizer must be"):
        ours32.encode(["a"], "bert-base-uncased")
    unloaded = bert.NumpyBert({k: v for k, v in _weights().items()}, ours32.config)
    with pytest.raises(ValueError, match="pass a tokenizer"):
        unloaded.encode(["a"])
    with pytest.raises(ValueError, match="method must be one of"):
        ours32.encode(["a"], tokenizer, method="max")
    with pytest.raises(ValueError, match="max_length must be <= 512"):
        ours32.encode(["a"], tokenizer, max_length=1000)
    with pytest.raises(TypeError, match="normalize must be True or False"):
        ours32.encode(["a"], tokenizer, normalize="yes")


# ------------------------------------------------------- Chapter 7's block as BERT uses it

def test_block_self_attention_equals_multi_head_attention():
    """The block's own attention (dtype-keeping, one additive mask) computes what Chapter 7's
    MultiHeadAttention computes, with padding and causal masks."""
    rng = np.random.default_rng(3)
    block = TransformerEncoderBlock(16, 4, 32, activation="gelu", seed=5)
    block.attn.b_q, block.attn.b_o = rng.normal(size=16), rng.normal(size=16)
    x = rng.normal(size=(3, 7, 16))
    keep = np.array([[True] * 7, [True] * 3 + [False] * 4, [True] * 5 + [False] * 2])
    for causal in (False, True):
        ours, w = block.self_attention(x, key_mask=keep, causal=causal, return_weights=True)
        ref, ref_w = block.attn(x, key_mask=keep, causal=causal, return_weights=True)
        np.testing.assert_allclose(ours, ref, atol=1e-12)
        np.testing.assert_allclose(w, ref_w, atol=1e-12)
    bias = block.mask_bias(7, keep, causal=True)
    assert bias.shape == (3, 1, 7, 7) and bias.dtype == np.float64
    assert np.isneginf(bias[1, 0, 6, 3]) and np.isneginf(bias[0, 0, 2, 3]) and bias[0, 0, 3, 2] == 0


def test_float32_block_keeps_float32_and_agrees_with_float64():
    rng = np.random.default_rng(4)
    b64 = TransformerEncoderBlock(16, 4, 32, activation="gelu", norm_first=False, seed=1)
    b32 = TransformerEncoderBlock(16, 4, 32, activation="gelu", norm_first=False, seed=1,
                                  dtype="float32")
    x = rng.normal(size=(2, 5, 16))
    keep = np.array([[True] * 5, [True, True, False, False, False]])
    out32, out64 = b32(x, key_mask=keep), b64(x, key_mask=keep)
    assert out32.dtype == np.float32 and out64.dtype == np.float64
    np.testing.assert_allclose(out32, out64, atol=1e-5)
    # weights assigned in float64 afterwards are used in the block's dtype
    b32.w1 = b64.w1 * 2.0
    assert b32(x).dtype == np.float32


def test_bad_block_arguments():
    block = TransformerEncoderBlock(8, 2, 16)
    with pytest.raises(ValueError, match="dtype must be one of"):
        TransformerEncoderBlock(8, 2, 16, dtype="float16")
    with pytest.raises(ValueError, match=r"key_mask must be a boolean array of shape \(batch, 3\)"):
        block(np.zeros((1, 3, 8)), key_mask=np.ones((1, 4), dtype=bool))
    with pytest.raises(ValueError, match="key_mask must be a boolean array"):
        block.self_attention(np.zeros((1, 3, 8)), key_mask=np.ones((1, 3)))
    with pytest.raises(ValueError, match="key_mask has 2 rows, x has 1"):
        block(np.zeros((1, 3, 8)), key_mask=np.ones((2, 3), dtype=bool))
    with pytest.raises(TypeError, match="causal must be True or False"):
        block(np.zeros((1, 3, 8)), causal="yes")
    with pytest.raises(ValueError, match="n must be >= 0"):
        block.mask_bias(-1)
    with pytest.raises(ValueError, match="x must be 3-D"):
        block.self_attention(np.zeros((3, 8)))
