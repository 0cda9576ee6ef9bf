"""embedlab.attention against torch: same inputs, same weights, float64, to 1e-12."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from embedlab.attention import (MultiHeadAttention, TransformerDecoderBlock, TransformerEncoderBlock,
                                causal_mask, gelu, layer_norm, padding_mask,
                                scaled_dot_product_attention, sinusoidal_positional_encoding, softmax)

TOL = 1e-12


def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("shape_q,shape_k,d_v", [
    ((5, 3), (5, 3), 3),            # no batch, square
    ((2, 7, 5), (2, 4, 5), 6),      # batch, more queries than keys, d_v != d_k
    ((3, 2, 1, 9), (3, 2, 11, 9), 1),  # batch and heads, a single query, odd widths
])
def test_sdpa_no_mask_matches_torch(rng, shape_q, shape_k, d_v):
    q = rng.normal(size=shape_q)
    k = rng.normal(size=shape_k)
    v = rng.normal(size=shape_k[:-1] + (d_v,))
    ours, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    ref = F.scaled_dot_product_attention(_t(q), _t(k), _t(v)).numpy()
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) < TOL
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("n,m", [(6, 6), (3, 8), (9, 4)])
def test_sdpa_causal_matches_torch(rng, n, m):
    q, k, v = rng.normal(size=(2, 3, n, 5)), rng.normal(size=(2, 3, m, 5)), rng.normal(size=(2, 3, m, 7))
    ours = scaled_dot_product_attention(q, k, v, causal=True)
    ref = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), is_causal=True).numpy()
    assert np.max(np.abs(ours - ref)) < TOL


def test_sdpa_padding_mask_matches_torch(rng):
    lengths = np.array([7, 3, 5])
    mask = padding_mask(lengths)[:, None, :]          # (batch, 1, m): same for every query
    q, k, v = rng.normal(size=(3, 7, 4)), rng.normal(size=(3, 7, 4)), rng.normal(size=(3, 7, 2))
    ours, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    ref = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=torch.from_numpy(mask)).numpy()
    assert np.max(np.abs(ours - ref)) < TOL
    assert np.all(w[1, :, 3:] == 0)  # padded keys receive no weight
    # Padding changes nothing for the real tokens: same as attending to the unpadded sequence.
    short = scaled_dot_product_attention(q[1, :, :], k[1, :3], v[1, :3])
    assert np.max(np.abs(short - ours[1])) < 1e-12


def test_sdpa_padding_and_causal_and_float_mask(rng):
    q, k, v = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 6, 3))
    pad = padding_mask([6, 4])[:, None, :]
    both = pad & causal_mask(6)
    ours = scaled_dot_product_attention(q, k, v, pad, causal=True)
    ref = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=torch.from_numpy(both)).numpy()
    assert np.max(np.abs(ours - ref)) < TOL
    bias = rng.normal(size=(6, 6))
    ours = scaled_dot_product_attention(q, k, v, bias, scale=0.3)
    ref = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(bias), scale=0.3).numpy()
    assert np.max(np.abs(ours - ref)) < TOL


def test_fully_masked_row_gives_zeros_like_torch(rng):
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    ours = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(_t(q)[None], _t(k)[None], _t(v)[None],
                                         attn_mask=torch.from_numpy(mask)).numpy()[0]
    assert np.all(ours[1] == 0)
    assert np.max(np.abs(ours - ref)) < TOL


def _torch_mha(d, h, bias=True, seed=0):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases, so that a wrong bias would show
        if bias:
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    mha.eval()
    ours = MultiHeadAttention(d, h, bias=bias)
    ours.set_weights(mha.in_proj_weight.detach().numpy(), mha.out_proj.weight.detach().numpy(),
                     mha.in_proj_bias.detach().numpy() if bias else None,
                     mha.out_proj.bias.detach().numpy() if bias else None)
    return mha, ours


@pytest.mark.parametrize("d,h,bias", [(12, 3, True), (10, 5, False), (7, 1, True)])
def test_mha_self_attention_with_padding_matches_torch(rng, d, h, bias):
    mha, ours = _torch_mha(d, h, bias)
    x = rng.normal(size=(3, 5, d))
    keep = padding_mask([5, 2, 4])
    out, w = ours(x, key_mask=keep, return_weights=True)
    ref, ref_w = mha(_t(x), _t(x), _t(x), key_padding_mask=torch.from_numpy(~keep))
    assert np.max(np.abs(out - ref.detach().numpy())) < TOL
    assert np.max(np.abs(w.mean(axis=1) - ref_w.detach().numpy())) < TOL  # torch averages heads


def test_mha_cross_attention_causal_and_float_mask_match_torch(rng):
    mha, ours = _torch_mha(8, 2, seed=3)
    xq, xk, xv = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 6, 8))
    out = ours(xq, xk, xv)
    ref, _ = mha(_t(xq), _t(xk), _t(xv))
    assert np.max(np.abs(out - ref.detach().numpy())) < TOL
    x = rng.normal(size=(2, 6, 8))
    cm = causal_mask(6)
    out = ours(x, causal=True)
    ref, _ = mha(_t(x), _t(x), _t(x), attn_mask=torch.from_numpy(~cm))  # torch: True = blocked
    assert np.max(np.abs(out - ref.detach().numpy())) < TOL
    bias = rng.normal(size=(6, 6))
    keep = padding_mask([6, 5])
    out = ours(x, key_mask=keep, attn_mask=bias)
    ref, _ = mha(_t(x), _t(x), _t(x), attn_mask=_t(bias),
                 key_padding_mask=_t(np.where(keep, 0.0, -np.inf)))  # same (float) mask type
    assert np.max(np.abs(out - ref.detach().numpy())) < TOL


def test_causal_output_does_not_see_the_future(rng):
    mha = MultiHeadAttention(6, 2, seed=1)
    x = rng.normal(size=(1, 5, 6))
    y = x.copy()
    y[0, 3:] = rng.normal(size=(2, 6))  # change the last two positions only
    a, b = mha(x, causal=True), mha(y, causal=True)
    assert np.allclose(a[0, :3], b[0, :3])
    assert not np.allclose(a[0, 3:], b[0, 3:])


def test_positional_encoding_formula():
    pe = sinusoidal_positional_encoding(50, 16)
    p, i = 13, 3  # an independent evaluation of the formula for one entry pair
    angle = p / 10000 ** (2 * i / 16)
    assert pe[p, 2 * i] == pytest.approx(np.sin(angle), abs=1e-12)
    assert pe[p, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-12)
    assert pe.shape == (50, 16)
    assert np.allclose(pe[0, 0::2], 0) and np.allclose(pe[0, 1::2], 1)
    assert sinusoidal_positional_encoding(4, 5).shape == (4, 5)  # odd width


def test_layer_norm_and_gelu_match_torch(rng):
    x, g, b = rng.normal(size=(3, 4, 10)), rng.normal(size=10), rng.normal(size=10)
    ref = F.layer_norm(_t(x), (10,), _t(g), _t(b), eps=1e-5).numpy()
    assert np.max(np.abs(layer_norm(x, g, b) - ref)) < TOL
    assert np.max(np.abs(gelu(x) - F.gelu(_t(x)).numpy())) < TOL


def _copy_block(layer, block):
    sd = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    block.attn.set_weights(sd["self_attn.in_proj_weight"], sd["self_attn.out_proj.weight"],
                           sd["self_attn.in_proj_bias"], sd["self_attn.out_proj.bias"])
    block.w1, block.b1 = sd["linear1.weight"], sd["linear1.bias"]
    block.w2, block.b2 = sd["linear2.weight"], sd["linear2.bias"]
    block.ln1_gamma, block.ln1_beta = sd["norm1.weight"], sd["norm1.bias"]
    block.ln2_gamma, block.ln2_beta = sd["norm2.weight"], sd["norm2.bias"]


def _perturbed_torch_layer(cls, heads, norm_first, activation, seed=0):
    """A torch encoder or decoder layer (d_model 12, d_ff 20, float64, no dropout) whose
    weights, biases and norms are moved off their defaults."""
    torch.manual_seed(seed)
    layer = cls(12, heads, dim_feedforward=20, dropout=0.0, activation=activation,
                batch_first=True, norm_first=norm_first, dtype=torch.float64)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer.eval()


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_encoder_block_matches_torch(rng, norm_first, activation):
    layer = _perturbed_torch_layer(torch.nn.TransformerEncoderLayer, 4, norm_first, activation)
    block = TransformerEncoderBlock(12, 4, 20, activation=activation, norm_first=norm_first)
    _copy_block(layer, block)
    x = rng.normal(size=(2, 5, 12))
    keep = padding_mask([5, 3])
    torch.backends.mha.set_fastpath_enabled(False)  # the plain path, which keeps padded rows
    try:
        ref = layer(_t(x), src_key_padding_mask=torch.from_numpy(~keep)).detach().numpy()
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    ours = block(x, key_mask=keep)
    assert np.max(np.abs(ours - ref)) < TOL


def test_mha_fully_padded_sequence_and_length_one_match_torch(rng):
    """A sequence whose keys are all padding: no key may be read, so the heads give zeros and
    the output is the output bias, as in torch's fused path (need_weights=False). Its other
    path (need_weights=True) returns NaN there; the real sequences agree with both."""
    mha, ours = _torch_mha(12, 3, seed=5)
    x = rng.normal(size=(3, 4, 12))
    keep = padding_mask([4, 0, 2], max_len=4)
    out = ours(x, key_mask=keep)
    ref, _ = mha(_t(x), _t(x), _t(x), key_padding_mask=torch.from_numpy(~keep), need_weights=False)
    assert np.max(np.abs(out - ref.detach().numpy())) < TOL
    assert np.array_equal(out[1], np.broadcast_to(ours.b_o, (4, 12)))
    with_weights, _ = mha(_t(x), _t(x), _t(x), key_padding_mask=torch.from_numpy(~keep))
    assert torch.isnan(with_weights[1]).all()
    assert np.max(np.abs(out[[0, 2]] - with_weights[[0, 2]].detach().numpy())) < TOL
    one = rng.normal(size=(2, 1, 12))  # a single position: its only key is itself
    ref, _ = mha(_t(one), _t(one), _t(one), need_weights=False)
    assert np.max(np.abs(ours(one, causal=True) - ref.detach().numpy())) < TOL


def _torch_decoder(norm_first, activation, seed=0):
    layer = _perturbed_torch_layer(torch.nn.TransformerDecoderLayer, 3, norm_first, activation,
                                   seed=seed)
    block = TransformerDecoderBlock(12, 3, 20, activation=activation, norm_first=norm_first)
    return layer, block.load_torch_state(layer.state_dict())


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_decoder_block_matches_torch(rng, norm_first, activation):
    layer, block = _torch_decoder(norm_first, activation)
    x, memory = rng.normal(size=(3, 5, 12)), rng.normal(size=(3, 7, 12))
    tgt_keep, mem_keep = padding_mask([5, 5, 3]), padding_mask([7, 4, 1])
    ref = layer(_t(x), _t(memory), tgt_mask=torch.from_numpy(~causal_mask(5)),
                tgt_key_padding_mask=torch.from_numpy(~tgt_keep),
                memory_key_padding_mask=torch.from_numpy(~mem_keep)).detach().numpy()
    out, w_self, w_cross = block(x, memory, key_mask=tgt_keep, memory_key_mask=mem_keep,
                                 return_weights=True)
    assert np.max(np.abs(out - ref)) < TOL
    assert w_self.shape == (3, 3, 5, 5) and w_cross.shape == (3, 3, 5, 7)
    assert np.all(np.triu(w_self, 1) == 0)            # causal self-attention
    assert np.all(w_cross[1, :, :, 4:] == 0)          # padded source positions get no weight
    assert np.all(w_cross[2, :, :, 0] == 1)           # a one-token source takes all the weight
    # Without the causal mask (a decoder that may read the whole target, as in BERT-style use).
    ref = layer(_t(x), _t(memory)).detach().numpy()
    assert np.max(np.abs(block(x, memory, causal=False) - ref)) < TOL


def test_decoder_block_with_a_fully_padded_source_matches_torch(rng):
    layer, block = _torch_decoder(False, "relu", seed=2)
    x, memory = rng.normal(size=(2, 3, 12)), rng.normal(size=(2, 4, 12))
    mem_keep = padding_mask([4, 0], max_len=4)  # the second source is empty
    ref = layer(_t(x), _t(memory), tgt_mask=torch.from_numpy(~causal_mask(3)),
                memory_key_padding_mask=torch.from_numpy(~mem_keep)).detach().numpy()
    out = block(x, memory, memory_key_mask=mem_keep)
    assert np.max(np.abs(out - ref)) < TOL
    # An empty source contributes only the bias of the cross-attention's output projection.
    changed = memory.copy()
    changed[1] = rng.normal(size=(4, 12))
    assert np.array_equal(block(x, changed, memory_key_mask=mem_keep)[1], out[1])


def test_decoder_reads_the_whole_source_but_only_the_past_of_the_target(rng):
    block = TransformerDecoderBlock(8, 2, 16, seed=3)
    x, memory = rng.normal(size=(1, 6, 8)), rng.normal(size=(1, 5, 8))
    keep = padding_mask([3], max_len=5)
    base = block(x, memory, memory_key_mask=keep)
    src = memory.copy()
    src[0, 2] += 1.0                                   # the last real source token
    moved = np.abs(block(x, src, memory_key_mask=keep) - base).max(axis=-1)[0]
    assert np.all(moved > 1e-6)                        # every target position reads it
    pad = memory.copy()
    pad[0, 3:] = rng.normal(size=(2, 8))               # padded source positions
    assert np.array_equal(block(x, pad, memory_key_mask=keep), base)
    tgt = x.copy()
    tgt[0, 4] += 1.0                                   # target position 4
    moved = np.abs(block(tgt, memory, memory_key_mask=keep) - base).max(axis=-1)[0]
    assert np.all(moved[:4] < 1e-12) and np.all(moved[4:] > 1e-6)


# ------------------------------------------------------------------ bad inputs
def test_bad_inputs_raise():
    q = np.zeros((2, 3))
    with pytest.raises(ValueError, match="same last dimension"):
        scaled_dot_product_attention(q, np.zeros((2, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="same number of positions"):
        scaled_dot_product_attention(q, np.zeros((2, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        scaled_dot_product_attention(np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="finite numbers and -inf"):
        scaled_dot_product_attention(q, q, q, np.full((2, 2), np.inf))
    with pytest.raises(TypeError, match="causal must be True or False"):
        scaled_dot_product_attention(q, q, q, causal=1)
    with pytest.raises(TypeError, match="query must hold numbers"):
        scaled_dot_product_attention([["a"]], q, q)
    with pytest.raises(ValueError, match="n_queries must be >= 1"):
        causal_mask(0)
    with pytest.raises(ValueError, match="shorter than the longest"):
        padding_mask([3, 5], max_len=4)
    with pytest.raises(ValueError, match="lengths must be >= 0"):
        padding_mask([-1, 2])
    with pytest.raises(TypeError, match="lengths must hold integers"):
        padding_mask([1.5, 2.0])
    with pytest.raises(ValueError, match="must divide d_model"):
        MultiHeadAttention(10, 3)
    with pytest.raises(TypeError, match="d_model must be an integer"):
        MultiHeadAttention(8.0, 2)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="width 5"):
        mha(np.zeros((1, 3, 5)))
    with pytest.raises(ValueError, match="query must be 3-D"):
        mha(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="key_mask must be a boolean array"):
        mha(np.zeros((1, 3, 8)), key_mask=np.ones((1, 3)))
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        mha(np.zeros((1, 3, 8)), attn_mask=np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="in_proj_weight must have shape"):
        mha.set_weights(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="d_model must be >= 1"):
        sinusoidal_positional_encoding(4, 0)
    with pytest.raises(ValueError, match="gamma and beta must have shape"):
        layer_norm(np.zeros((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="activation must be one of"):
        TransformerEncoderBlock(8, 2, 16, activation="tanh")
    with pytest.raises(ValueError, match="only -inf"):
        softmax([1.0, np.nan])


def test_decoder_block_bad_inputs_raise():
    block = TransformerDecoderBlock(8, 2, 16)
    x = np.zeros((2, 3, 8))
    with pytest.raises(ValueError, match="memory must have the batch size and width of x"):
        block(x, np.zeros((1, 4, 8)))
    with pytest.raises(ValueError, match="memory must have the batch size and width of x"):
        block(x, np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match="memory must be 3-D"):
        block(x, np.zeros((4, 8)))
    with pytest.raises(TypeError, match="causal must be True or False"):
        block(x, np.zeros((2, 4, 8)), causal="yes")
    with pytest.raises(ValueError, match="key_mask must be a boolean array"):
        block(x, np.zeros((2, 4, 8)), memory_key_mask=np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="must divide d_model"):
        TransformerDecoderBlock(8, 3, 16)
    with pytest.raises(ValueError, match="d_ff must be >= 1"):
        TransformerDecoderBlock(8, 2, 0)
    with pytest.raises(ValueError, match="activation must be one of"):
        TransformerDecoderBlock(8, 2, 16, activation="tanh")
    with pytest.raises(TypeError, match="norm_first must be True or False"):
        TransformerDecoderBlock(8, 2, 16, norm_first=1)
    with pytest.raises(TypeError, match="state must be a mapping"):
        block.load_torch_state([1, 2])
    layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    state = dict(layer.state_dict())
    del state["norm3.bias"]
    with pytest.raises(ValueError, match="state lacks"):
        block.load_torch_state(state)
    wide = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=32, batch_first=True)
    with pytest.raises(ValueError, match="linear1.weight must have shape"):
        block.load_torch_state(wide.state_dict())
