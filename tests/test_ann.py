"""Exact search, IVF, PQ and IVF-PQ from scratch: the same neighbours and distances as faiss
given the same centroids and codebooks."""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from embedlab import ann  # noqa: E402

faiss.omp_set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    X = ann.synthetic_embeddings(3000, 32, n_clusters=20, intrinsic_dim=4, seed=0)
    Q = ann.synthetic_embeddings(3040, 32, n_clusters=20, intrinsic_dim=4, seed=0)[3000:]
    return X, Q


def _faiss_ivf(centroids, X, metric="l2"):
    d = centroids.shape[1]
    if metric == "l2":
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, len(centroids))
    else:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, len(centroids), faiss.METRIC_INNER_PRODUCT)
    quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
    index.is_trained = True
    index.add(np.ascontiguousarray(X, dtype=np.float32))
    return index


def _same_results(D, I, Df, If, tol=1e-5):
    """Same distances (to ``tol``) and the same ids, except that ids may differ among results
    whose distance ties with the k-th one (which of several equal candidates is kept is an
    implementation detail)."""
    assert D.shape == Df.shape and I.shape == If.shape
    finite = np.isfinite(D)
    assert np.array_equal(finite, np.abs(Df) < 1e30), "padding differs"
    assert np.allclose(D[finite], Df[finite], rtol=tol, atol=tol)
    assert np.array_equal(I[~finite], If[~finite])
    for row in range(len(I)):
        ours = dict(zip(I[row][finite[row]], D[row][finite[row]]))
        theirs = dict(zip(If[row][finite[row]], Df[row][finite[row]]))
        for i in set(ours) & set(theirs):
            assert abs(ours[i] - theirs[i]) <= tol * (1 + abs(ours[i]))
        last = D[row][finite[row]][-1] if finite[row].any() else None
        for i in set(ours) ^ set(theirs):
            d = ours.get(i, theirs.get(i))
            assert abs(d - last) <= tol * (1 + abs(d)), f"id {i} differs but is not a tie"


def test_synthetic_embeddings_are_unit_vectors_and_seeded():
    a = ann.synthetic_embeddings(500, 24, n_clusters=7, seed=3)
    b = ann.synthetic_embeddings(500, 24, n_clusters=7, seed=3)
    c = ann.synthetic_embeddings(500, 24, n_clusters=7, seed=4)
    assert a.dtype == np.float32 and a.shape == (500, 24)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # clustered: the nearest neighbour is much closer than a random point
    D, _ = ann.exact_search(a, a[:50], 2)
    random_d = np.sum((a[:50] - a[50:100]) ** 2, axis=1)
    assert np.median(D[:, 1]) < 0.5 * np.median(random_d)


def test_synthetic_embeddings_anchors_set_the_clusters():
    rng = np.random.default_rng(0)
    anchors = rng.normal(size=(5, 16))
    X = ann.synthetic_embeddings(400, 16, anchors=anchors, spread=0.1, noise=0.01, seed=0)
    unit = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    # every point is closer to some anchor than to the average anchor
    assert np.all((X @ unit.T).max(axis=1) > 0.7)
    with pytest.raises(ValueError, match="anchors must have 16 columns"):
        ann.synthetic_embeddings(10, 16, anchors=anchors[:, :8])


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_exact_search_equals_faiss_flat(data, metric):
    X, Q = data
    D, I = ann.exact_search(X, Q, 10, metric=metric, chunk_size=7)
    index = faiss.IndexFlatL2(X.shape[1]) if metric == "l2" else faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    Df, If = index.search(Q, 10)
    _same_results(D, I, Df, If)


def test_exact_search_pads_when_k_exceeds_the_database():
    X = np.eye(3)
    D, I = ann.exact_search(X, X[:1], 5)
    assert I.tolist() == [[0, 1, 2, -1, -1]]
    assert D[0, 0] == 0 and np.all(np.isinf(D[0, 3:]))
    D, I = ann.exact_search(X, X[:1], 5, metric="ip")
    assert I[0, 0] == 0 and np.all(np.isneginf(D[0, 3:]))


def test_recall_at_k_counts_shared_ids():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 9, 1], [-1, -1, 4]])
    assert ann.recall_at_k(found, truth) == pytest.approx(3 / 6)
    assert ann.recall_at_k(found, truth, k=1) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="one row per query"):
        ann.recall_at_k(found[:1], truth)
    with pytest.raises(ValueError, match="larger than the columns"):
        ann.recall_at_k(found, truth, k=4)


def test_kmeans_is_as_good_as_faiss_kmeans(data):
    X, _ = data
    C = ann.kmeans(X, 20, n_iter=20, seed=0)
    ours = ann.assign(X, C)[1].sum()
    km = faiss.Kmeans(X.shape[1], 20, niter=20, seed=1)
    km.train(X)
    theirs = km.index.search(X, 1)[0].sum()
    assert ours < 1.10 * theirs
    # the assignment step is the nearest centroid
    labels, dists = ann.assign(X[:100], C)
    brute = ((X[:100, None, :] - C[None]) ** 2).sum(-1)
    assert np.array_equal(labels, brute.argmin(1)) and np.allclose(dists, brute.min(1))


def test_kmeans_refills_empty_clusters():
    X = np.array([[0.0, 0.0]] * 5 + [[10.0, 10.0]] * 5 + [[20.0, 0.0]])
    C = ann.kmeans(X, 3, n_iter=5, seed=0)
    labels, _ = ann.assign(X, C)
    assert len(np.unique(labels)) == 3
    with pytest.raises(ValueError, match="larger than the number of rows"):
        ann.kmeans(X, 12)


@pytest.mark.parametrize("metric", ["l2", "ip"])
@pytest.mark.parametrize("nprobe", [1, 3, 50])
def test_ivf_equals_faiss_given_the_same_centroids(data, metric, nprobe):
    X, Q = data
    C = ann.kmeans(X, 16, n_iter=5, seed=1)
    ours = ann.IVFIndex(C, metric=metric).add(X)
    ref = _faiss_ivf(C, X, metric)
    ref.nprobe = nprobe
    D, I = ours.search(Q, 10, nprobe=nprobe)
    Df, If = ref.search(Q, 10)
    _same_results(D, I, Df, If)
    assert ours.ntotal == ref.ntotal == len(X)
    assert sorted(ours.list_sizes()) == sorted(ref.invlists.list_size(j) for j in range(16))


def test_ivf_pads_like_faiss_when_probed_lists_are_short():
    rng = np.random.default_rng(0)
    C = np.array([[0.0, 0.0], [100.0, 100.0], [-100.0, 50.0]])
    X = rng.normal(size=(6, 2))                      # all in list 0; lists 1 and 2 stay empty
    ours = ann.IVFIndex(C).add(X, ids=np.arange(10, 16))
    ref = _faiss_ivf(C, X)
    Q = np.array([[99.0, 99.0], [0.1, 0.1]])
    for nprobe in (1, 2):
        ref.nprobe = nprobe
        D, I = ours.search(Q, 8, nprobe=nprobe)
        Df, If = ref.search(Q.astype(np.float32), 8)
        If = np.where(If >= 0, If + 10, -1)
        _same_results(D, I, Df, If)
    # query 0 probes only the empty list 1 with nprobe=1: nothing found
    D, I = ours.search(Q[:1], 3, nprobe=1)
    assert I.tolist() == [[-1, -1, -1]] and np.all(np.isinf(D))


def test_ivf_with_all_lists_probed_is_exact(data):
    X, Q = data
    index = ann.IVFIndex.train(X, 8, n_iter=3, seed=0).add(X)
    _, I = index.search(Q, 10, nprobe=8)
    _, I_exact = ann.exact_search(X, Q, 10)
    assert ann.recall_at_k(I, I_exact) == 1.0
    _, I1 = index.search(Q, 10, nprobe=1)
    assert ann.recall_at_k(I1, I_exact) < 1.0


def _faiss_pq(codebooks, X):
    M, ksub, dsub = codebooks.shape
    index = faiss.IndexPQ(M * dsub, M, int(np.log2(ksub)))
    faiss.copy_array_to_vector(codebooks.astype(np.float32).ravel(), index.pq.centroids)
    index.is_trained = True
    index.add(np.ascontiguousarray(X, dtype=np.float32))
    return index


@pytest.mark.parametrize("M,nbits", [(4, 8), (8, 4), (1, 6)])
def test_pq_encode_decode_and_search_equal_faiss(data, M, nbits):
    X, Q = data
    pq = ann.ProductQuantizer.train(X[:1000], M, nbits=nbits, n_iter=5, seed=0)
    assert pq.codebooks.shape == (M, 2 ** nbits, 32 // M)
    ref = _faiss_pq(pq.codebooks, X)
    codes = pq.encode(X)
    if nbits == 8:
        assert np.array_equal(codes, ref.sa_encode(X))
    assert np.allclose(pq.decode(codes), ref.sa_decode(ref.sa_encode(X)) if nbits == 8
                       else ref.pq.decode(ref.pq.compute_codes(X)), atol=1e-5)
    D, I = pq.search(Q, codes, 10)
    Df, If = ref.search(Q, 10)
    _same_results(D, I, Df, If)


def test_pq_distance_table_is_the_distance_to_the_reconstruction(data):
    X, Q = data
    pq = ann.ProductQuantizer.train(X[:600], 4, nbits=5, n_iter=3, seed=2)
    codes = pq.encode(X[:50])
    recon = pq.decode(codes)
    direct = ((Q[:5, None, :] - recon[None]) ** 2).sum(-1)
    assert np.allclose(pq.adc(Q[:5], codes), direct, atol=1e-9)
    # the codes pick the nearest centroid of every sub-vector
    for m in range(4):
        sub = X[:50, m * 8:(m + 1) * 8]
        d = ((sub[:, None, :] - pq.codebooks[m][None]) ** 2).sum(-1)
        assert np.array_equal(codes[:, m], d.argmin(1))


def test_pq_search_with_few_codes_pads(data):
    X, Q = data
    pq = ann.ProductQuantizer.train(X[:300], 4, nbits=4, n_iter=2, seed=0)
    D, I = pq.search(Q[:2], pq.encode(X[:3]), 5)
    assert np.all(I[:, 3:] == -1) and np.all(np.isinf(D[:, 3:]))
    D, I = pq.search(Q[:2], np.empty((0, 4), dtype=np.uint8), 2)
    assert np.all(I == -1)


def test_ivfpq_equals_faiss_given_the_same_centroids_and_codebooks(data):
    X, Q = data
    ours = ann.IVFPQIndex.train(X[:2000], 8, 4, nbits=6, n_iter=5, seed=0)
    quantizer = faiss.IndexFlatL2(32)
    quantizer.add(ours.centroids.astype(np.float32))
    ref = faiss.IndexIVFPQ(quantizer, 32, 8, 4, 6)
    faiss.copy_array_to_vector(ours.pq.codebooks.astype(np.float32).ravel(), ref.pq.centroids)
    ref.is_trained = True
    ours.add(X)
    ref.add(X)
    for nprobe in (1, 3, 8):
        ref.nprobe = nprobe
        D, I = ours.search(Q, 10, nprobe=nprobe)
        Df, If = ref.search(Q, 10)
        _same_results(D, I, Df, If, tol=1e-4)


def test_argument_errors(data):
    X, Q = data
    with pytest.raises(ValueError, match="queries must have 32 columns"):
        ann.exact_search(X, Q[:, :5], 3)
    with pytest.raises(ValueError, match="metric must be one of"):
        ann.exact_search(X, Q, 3, metric="cosine")
    with pytest.raises(ValueError, match="k must be >= 1"):
        ann.exact_search(X, Q, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        ann.exact_search(X, Q, 2.5)
    with pytest.raises(ValueError, match="must be 2-D"):
        ann.exact_search(X[0], Q, 3)
    index = ann.IVFIndex(X[:4])
    with pytest.raises(ValueError, match="nprobe must be >= 1"):
        index.search(Q, 3, nprobe=0)
    with pytest.raises(ValueError, match="ids must have one entry per row"):
        index.add(X[:5], ids=[1, 2])
    with pytest.raises(ValueError, match="multiple of M"):
        ann.ProductQuantizer.train(X, 5)
    with pytest.raises(ValueError, match="nbits must be <= 8"):
        ann.ProductQuantizer.train(X, 4, nbits=9)
    with pytest.raises(ValueError, match="power of two"):
        ann.ProductQuantizer(np.zeros((2, 3, 4)))
    pq = ann.ProductQuantizer(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="codes must lie in"):
        pq.decode(np.array([[0, 4]]))
    with pytest.raises(TypeError, match="pq must be a ProductQuantizer"):
        ann.IVFPQIndex(X[:4], pq="no")
    with pytest.raises(ValueError, match="pq works in 8 dimensions"):
        ann.IVFPQIndex(X[:4], pq)
    with pytest.raises(ValueError, match="n must be >= 1"):
        ann.synthetic_embeddings(0)
    with pytest.raises(ValueError, match="spread must be a non-negative"):
        ann.synthetic_embeddings(5, 8, intrinsic_dim=2, spread=-1.0)
