"""embedlab.autograd: gradients against torch.autograd and against finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from embedlab.autograd import Tensor, cross_entropy, numerical_gradient


def _mlp_loss_ours(x, w1, b1, w2, b2, y, activation):
    h = x @ w1 + b1
    h = getattr(h, activation)()
    return cross_entropy(h @ w2 + b2, y)


def _mlp_loss_torch(x, w1, b1, w2, b2, y, activation):
    h = getattr(torch, activation)(x @ w1 + b1)
    return F.cross_entropy(h @ w2 + b2, torch.from_numpy(y))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_mlp_gradients_equal_torch_autograd(activation):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(7, 4)), rng.normal(size=(4, 5)), rng.normal(size=5),
              rng.normal(size=(5, 3)), rng.normal(size=3)]
    y = rng.integers(0, 3, size=7)
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    loss = _mlp_loss_ours(*ours, y, activation)
    loss.backward()
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = _mlp_loss_torch(*theirs, y, activation)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), abs=1e-12)
    for a, b in zip(ours, theirs):
        assert np.max(np.abs(a.grad - b.grad.numpy())) < 1e-10


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(6, 3)), rng.normal(size=(3, 4)), rng.normal(size=4),
              rng.normal(size=(4, 2)), rng.normal(size=2)]
    y = rng.integers(0, 2, size=6)

    def f(*arrs):
        return _mlp_loss_ours(*(Tensor(a) for a in arrs), y, "tanh").item()

    ts = [Tensor(a, requires_grad=True) for a in arrays]
    _mlp_loss_ours(*ts, y, "tanh").backward()
    numeric = numerical_gradient(f, arrays, eps=1e-6)
    for t, g in zip(ts, numeric):
        assert np.max(np.abs(t.grad - g)) < 1e-7


def test_elementwise_ops_broadcasting_and_reuse_match_torch():
    rng = np.random.default_rng(2)
    a_np, b_np, c_np = rng.uniform(0.5, 2, size=(3, 4)), rng.normal(size=(1, 4)), rng.normal(size=4)
    a, b, c = (Tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
    # a appears several times: its gradient must add up over every use.
    out = ((a * b - c) / a + a.log() * 2.0 - (a ** 1.5).exp() * 0.1 + 3.0 - a.T.T).mean(axis=0)
    out = (out.sum(axis=0, keepdims=True) * out).sum() + (1.0 - a).sum() / 4.0 + (2.0 / a).mean()
    out.backward()
    at, bt, ct = (torch.tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
    ref = ((at * bt - ct) / at + at.log() * 2.0 - (at ** 1.5).exp() * 0.1 + 3.0 - at).mean(dim=0)
    ref = (ref.sum(dim=0, keepdim=True) * ref).sum() + (1.0 - at).sum() / 4.0 + (2.0 / at).mean()
    ref.backward()
    assert out.item() == pytest.approx(ref.item(), abs=1e-10)
    for ours, theirs in ((a, at), (b, bt), (c, ct)):
        assert ours.grad.shape == ours.shape
        assert np.max(np.abs(ours.grad - theirs.grad.numpy())) < 1e-10


def test_leaf_gradients_accumulate_like_torch():
    w = Tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    (w * 3.0).sum().backward()
    assert np.allclose(w.grad, 2 * np.array([1.0, -2.0]) + 3.0)
    w.zero_grad()
    assert w.grad is None


def test_constants_get_no_gradient_and_deep_graph_works():
    x = Tensor(np.ones(3))
    w = Tensor(np.full(3, 0.5), requires_grad=True)
    y = w
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0
    (y * x).sum().backward()
    assert x.grad is None
    assert np.allclose(w.grad, 1.0)


def test_indexing_gradients_match_torch_with_repeated_rows_and_slices():
    rng = np.random.default_rng(3)
    E_np, w_np = rng.normal(size=(6, 4)), rng.normal(size=(2, 2))
    ids = np.array([[1, 2, 1, 0], [5, 5, 5, 3]])       # repeated ids must add up
    E = Tensor(E_np, requires_grad=True)
    rows = E[ids]                                       # an embedding lookup, (2, 4, 4)
    gates = rows[:, 1:3, :].tanh() * rows[:, :2, ::-1]  # slices, one with a step of -1
    out = (gates.sum(axis=2) * w_np).sum() + E[3, 2] * 2.0
    out.backward()
    Et = torch.tensor(E_np, requires_grad=True)
    rt = Et[torch.from_numpy(ids)]
    ref = ((rt[:, 1:3, :].tanh() * rt[:, :2].flip(2)).sum(2) * torch.from_numpy(w_np)).sum()
    ref = ref + Et[3, 2] * 2.0
    ref.backward()
    assert rows.shape == (2, 4, 4)
    assert out.item() == pytest.approx(ref.item(), abs=1e-12)
    assert np.max(np.abs(E.grad - Et.grad.numpy())) < 1e-12
    assert np.all(E.grad[4] == 0), "a row that was never read gets no gradient"
    assert np.any(E.grad[5] != 0)


def test_bad_inputs_raise():
    with pytest.raises(TypeError, match="data must hold numbers"):
        Tensor(["a"])
    with pytest.raises(TypeError, match="requires_grad must be True or False"):
        Tensor([1.0], requires_grad=1)
    with pytest.raises(TypeError, match="cannot combine a Tensor with str"):
        Tensor([1.0]) + "x"
    with pytest.raises(ValueError, match="do not fit for a matrix product"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="needs two 2-D tensors"):
        Tensor(np.ones(3)) @ Tensor(np.ones(3))
    with pytest.raises(ValueError, match="needs a scalar"):
        Tensor(np.ones(3), requires_grad=True).backward()
    with pytest.raises(ValueError, match="grad has shape"):
        Tensor(np.ones(3), requires_grad=True).backward(np.ones(2))
    with pytest.raises(ValueError, match="log needs positive values"):
        Tensor([0.0]).log()
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Tensor(np.ones((2, 2))).sum(axis=2)
    with pytest.raises(TypeError, match="logits must be a Tensor"):
        cross_entropy(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\)"):
        cross_entropy(Tensor(np.zeros((2, 2))), [0, 2])
    with pytest.raises(ValueError, match="targets has 3 entries for 2 rows"):
        cross_entropy(Tensor(np.zeros((2, 2))), [0, 1, 1])
    with pytest.raises(TypeError, match="targets must hold integers"):
        cross_entropy(Tensor(np.zeros((2, 2))), [0.0, 1.0])
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3, [np.ones(2)])
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(lambda a: 0.0, [np.ones(2)], eps=0.0)
    with pytest.raises(ValueError, match="item\\(\\) needs a tensor with one element"):
        Tensor(np.ones(2)).item()
    with pytest.raises(TypeError, match="not with another Tensor"):
        Tensor(np.ones(3))[Tensor([0.0])]
    with pytest.raises(TypeError, match="integer arrays"):
        Tensor(np.ones(3))[np.array([0.5])]
    with pytest.raises(TypeError, match="integer arrays"):
        Tensor(np.ones(3))[np.array([True, False, True])]
    with pytest.raises(ValueError, match="index out of range"):
        Tensor(np.ones((2, 3)))[np.array([0, 2])]
