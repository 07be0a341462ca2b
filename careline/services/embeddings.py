"""Mention embeddings: stored int8 (one scale per row) from the classifier's encoder pass, read back
as unit-length float32 matrices for themes (services/themes.py) and suggested replies
(services/suggestions.py).

One writer: `store`, called by `classification.apply_labels` in the same transaction as the labels,
so a re-classification (`careline classify --all`) replaces a mention's embedding with its labels and
no embedding outlives the labels it came with.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from careline.models import MentionEmbedding

log = logging.getLogger(__name__)
TABLE = MentionEmbedding.__table__  # type: ignore[attr-defined]
_warned: set[str] = set()


def encode(vector: np.ndarray) -> tuple[float, bytes]:
    """(scale, int8 bytes): symmetric per-vector quantisation, largest component ↦ ±127.

    On unit vectors this keeps cosine similarities within ~0.002 of float32 (tests/careline), at a
    quarter of the size."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    peak = float(np.abs(v).max()) if v.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    return scale, np.clip(np.rint(v / scale), -127, 127).astype(np.int8).tobytes()


def decode_unit(blobs: Sequence[bytes]) -> np.ndarray:
    """Unit-length float32 rows from stored int8 blobs (the scale cancels out when normalising)."""
    if not blobs:
        return np.zeros((0, 0), np.float32)
    m = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), -1).astype(np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-6)


def store(session: Session, pairs: Iterable[tuple[int, np.ndarray | None]], version: str) -> int:
    """Replace the embeddings of these mentions (delete, then insert the ones that have one); caller
    commits. A classifier without embeddings (lexicon, a Hugging Face swap) leaves the mentions without
    one, said once per model version in the log, so themes fall back to words and say why."""
    pairs = list(pairs)
    if not pairs:
        return 0
    ids = [mid for mid, _ in pairs]
    session.execute(sa.delete(TABLE).where(TABLE.c.mention_id.in_(ids)))
    rows = []
    for mid, vec in pairs:
        if vec is None:
            continue
        scale, blob = encode(vec)
        rows.append({"mention_id": mid, "scale": scale, "vector": blob})
    if len(rows) < len(pairs) and version not in _warned:
        _warned.add(version)
        log.warning("classifier %s gives no sentence embeddings: themes fall back to words and reply "
                    "suggestions use templates only for the mentions it labels", version)
    if rows:
        session.execute(sa.insert(TABLE), rows)
    return len(rows)


def load(session: Session, mention_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """(ids that have an embedding, their unit-length rows in that order)."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for start in range(0, len(mention_ids), 5000):  # keep IN lists a size every database accepts
        chunk = list(mention_ids[start:start + 5000])
        for mid, blob in session.execute(sa.select(TABLE.c.mention_id, TABLE.c.vector)
                                         .where(TABLE.c.mention_id.in_(chunk))):
            ids.append(int(mid))
            blobs.append(bytes(blob))
    return ids, decode_unit(blobs)


def one(session: Session, mention_id: int) -> np.ndarray | None:
    """The unit-length embedding of one mention, or None when it has none."""
    ids, matrix = load(session, [mention_id])
    return matrix[0] if ids else None
