"""Grouping unit-length sentence embeddings into themes with scikit-learn, and labelling each theme.

Called by services/themes.py only (which imports this module when it first clusters). scikit-learn
runs single-threaded here (threadpoolctl): on this shared 2-core machine, under load 7, choosing k and
fitting 10,000 embeddings took 2.9 s with one OpenMP thread and 27 s with two (the threads wait on
each other while the other core is busy). scikit-learn is imported at the top of this module, not
inside the limited block: threadpoolctl only limits the libraries already loaded when the block is
entered, so the first call in a fresh process used to run with scikit-learn's OpenMP at two threads
(find_themes over 10,000 complaints: 11.4 s CPU cold against 4.4 s with the limit in force, load 8).
The long-running dashboard imports this module in the background at start (dashboard/app.py), so a
page never pays the ~2 s import of scikit-learn and SciPy.
Figures for the whole `find_themes` in docs/reports.md (benchmarks/themes_suggestions.py).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import pairwise_distances, silhouette_score
from threadpoolctl import threadpool_limits

from careline.services.theme_terms import EXAMPLES, MAX_K, SELECTION_SAMPLE, Theme, terms

log = logging.getLogger(__name__)
SEED = 0


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def choose_k(x: np.ndarray, max_k: int = MAX_K) -> int:
    """The k in 2..max_k (at most n/4) with the best silhouette on a seeded sample; ties: smaller k.

    The sample's distances are computed once and shared by every k's silhouette (they were computed
    again for each of the nine k: 11% of a cold find_themes over 10,000 complaints, profiled)."""
    n = len(x)
    top = max(2, min(max_k, n // 4))
    rng = np.random.default_rng(SEED)
    sample = x[rng.choice(n, SELECTION_SAMPLE, replace=False)] if n > SELECTION_SAMPLE else x
    distances = pairwise_distances(sample)
    np.fill_diagonal(distances, 0.0)  # exact zeros on the diagonal (rounding leaves ~1e-4), as silhouette expects
    best, best_score = 2, -1.0
    for k in range(2, top + 1):
        labels = MiniBatchKMeans(n_clusters=k, random_state=SEED, n_init=3, batch_size=1024).fit_predict(sample)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if score > best_score + 1e-3:
            best, best_score = k, score
    log.debug("themes: k=%d (silhouette %.3f) for %d posts", best, best_score, n)
    return best


def c_tf_idf(texts: Sequence[str], labels: np.ndarray, k: int, skip: set[str], top: int = 3) -> list[list[str]]:
    """Characteristic words and two-word phrases of each cluster (class-based TF-IDF, as BERTopic
    labels topics): frequency in the cluster × log(1 + average words per cluster / frequency overall).
    A phrase replaces its two words when it ranks among them."""
    docs = [terms(t, skip) for t in texts]
    if not any(docs):
        return [[] for _ in range(k)]
    vec = CountVectorizer(analyzer=lambda d: d, binary=True)  # documents arrive as their term sets
    counts = vec.fit_transform(docs)
    vocab = np.asarray(vec.get_feature_names_out())
    per = np.zeros((k, counts.shape[1]), np.float64)
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if len(rows):
            per[c] = np.asarray(counts[rows].sum(axis=0)).ravel()
    tf = per / np.maximum(per.sum(axis=1, keepdims=True), 1.0)
    idf = np.log1p(per.sum(axis=1).mean() / np.maximum(per.sum(axis=0), 1.0))
    scores = tf * idf
    out: list[list[str]] = []
    for c in range(k):
        chosen: list[str] = []
        for j in np.argsort(-scores[c]):
            if per[c, j] < 2 or len(chosen) >= top:  # a word in one post only names that post, not a theme
                break
            term = str(vocab[j])
            words = term.split()
            if any(term in ch or ch in words for ch in chosen):
                continue
            chosen = [ch for ch in chosen if ch not in words]
            chosen.append(term)
        out.append(chosen[:top])
    return out


def cluster_themes(ids: Sequence[int], texts: Sequence[str], sentiments: Sequence[str], x: np.ndarray,
                   previous: np.ndarray | None, skip: set[str], limit: int, total: int,
                   against_previous: bool = False) -> list[Theme]:
    """Themes, largest first (at most `limit`; clusters of one or two posts are left out)."""
    with threadpool_limits(limits=1):
        return _cluster(ids, texts, sentiments, x, previous, skip, limit, total, against_previous)


def _cluster(ids: Sequence[int], texts: Sequence[str], sentiments: Sequence[str], x: np.ndarray,
             previous: np.ndarray | None, skip: set[str], limit: int, total: int,
             against_previous: bool) -> list[Theme]:
    # The classifier's encoder was fine-tuned for sentiment and intent, so posts of one intent share a
    # large common direction (complaints are ~0.5 cosine apart whatever they are about); taking out the
    # set's mean leaves what tells them apart, their topic. Against the previous period (a storm), its
    # mean is taken out instead, so what is new stays together rather than being split.
    base = previous if against_previous and previous is not None and len(previous) else x
    mean = base.mean(axis=0, keepdims=True)
    x = _unit(x - mean)
    if previous is not None and len(previous):
        previous = _unit(previous - mean)
    k = choose_k(x)
    model = MiniBatchKMeans(n_clusters=k, random_state=SEED, n_init=3, batch_size=1024).fit(x)
    labels = model.labels_
    centres = model.cluster_centers_ / np.maximum(np.linalg.norm(model.cluster_centers_, axis=1, keepdims=True), 1e-6)
    sims = x @ centres.T
    own = sims[np.arange(len(x)), labels]
    words = c_tf_idf(texts, labels, k, skip)
    # the previous period: a post joins the nearest theme when it is at least as close to the centre as
    # the theme's median member; farther ones belonged to no theme of this period
    prev_counts: Counter[int] = Counter()
    if previous is not None and len(previous):
        ps = previous @ centres.T
        near = ps.argmax(axis=1)
        cutoff = np.array([np.median(own[labels == c]) if (labels == c).any() else 1.0 for c in range(k)])
        prev_counts.update(int(c) for c, s in zip(near, ps.max(axis=1)) if s >= cutoff[c] - 0.05)
    # Two clusters named by the same words are one theme to a reader (k-means may split a big topic in
    # two; the demo's Trends showed "app logged · check-in · booking" twice): they are merged here.
    canon: dict[tuple[str, ...], int] = {}
    merged_into = np.array([canon.setdefault(tuple(sorted(words[c])) if words[c] else ("#", str(c)), c)
                            for c in range(k)])
    labels = merged_into[labels]
    merged_prev: Counter[int] = Counter()
    for c, n in prev_counts.items():
        merged_prev[int(merged_into[c])] += n
    prev_counts = merged_prev
    themes = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) < 3:
            continue
        nearest = members[np.argsort(-own[members])]
        examples, seen = [], set()
        for i in nearest:  # three different posts, not the same retweet three times
            key = " ".join(texts[int(i)].lower().split())
            if key in seen:
                continue
            seen.add(key)
            examples.append((int(ids[i]), texts[int(i)]))
            if len(examples) == EXAMPLES:
                break
        terms = words[c] or [" ".join(texts[nearest[0]].split()[:6]) + "…"]
        themes.append(Theme(label=" · ".join(terms), terms=terms, size=len(members), share=len(members) / total,
                            previous=prev_counts.get(c, 0) if previous is not None else None,
                            sentiment=dict(Counter(sentiments[int(i)] for i in members)), examples=examples,
                            mention_ids=[int(ids[int(i)]) for i in members]))
    themes.sort(key=lambda t: (-t.size, t.label))
    return themes[:limit]
