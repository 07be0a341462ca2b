"""Suggested replies for the open mention: the team's templates and the replies it actually sent to the
most similar past mentions, best first. Suggestions only: the composer puts one in the box for a person
to edit and send; nothing here queues or sends anything.

How they are chosen (README "Suggested replies"):
- Past replies: replies of this brand's mentions that were really sent (state "sent", not dry runs, not
  thanks). The 50 whose mentions are nearest the open one by sentence embedding (cosine, centred on the
  brand's mean) are re-ranked by 0.6 × that cosine + 0.4 × the share of words the two mentions have in
  common (Jaccard, brand names and stop-words left out): the encoder was tuned for sentiment and intent,
  and shared words keep "lost my bag" next to "lost baggage" rather than next to another angry post.
- Templates: a sent reply "came from" a template when the words they share are at least 60% of the
  template's fixed words (the parts outside {variables}) and of the reply's words; a template ranks by its best such similar past
  mention (so the one the team used for complaints like this one comes first). A template nobody has
  used yet ranks below those, by the share of its words the open mention shares (compared by their
  first five letters; at most 0.3).
- Replies with the same text count once (the best match), and a reply that came from a template is shown
  as that template; the top three come back with the past mention they answered.
Suggestions improve as the team answers more: each sent reply joins the index.

Speed: the index is a numpy matrix of unit-length embeddings per brand, kept in this process and topped
up with the replies sent since (by reply id) on each call; benchmarks/suggestions_speed.py measures it.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col

from careline.models import Mention, MentionEmbedding, Reply, ReplyState
from careline.services import app_settings, embeddings

log = logging.getLogger(__name__)
TOP = 3
EMBEDDING_WEIGHT = 0.6
TEMPLATE_OVERLAP = 0.6
UNUSED_TEMPLATE_CAP = 0.3
OPEN_STATES = (ReplyState.queued.value, ReplyState.sending.value, ReplyState.failed.value, ReplyState.unknown.value)
_WORDS = re.compile(r"\w+", re.UNICODE)
_MENTION = re.compile(r"@(\w+)")
_VARIABLE = re.compile(r"\{[^{}]*\}")


@dataclass
class Suggestion:
    text: str                          # ready to edit: a template filled in, or the sent reply
    score: float                       # 0..1, similarity of the open mention to the past one
    kind: str                          # "template" | "past reply"
    template: str | None = None        # the template's name
    reply_id: int | None = None        # the past reply it is (or the best one made from the template)
    past_mention_id: int | None = None
    past_mention_text: str | None = None
    times_used: int = 0                # sent replies with this text (or from this template)


@dataclass
class _Index:
    """One brand's sent replies: reply ids, their mentions, unit embeddings, highest reply id seen.

    The centred cosine (see `suggest`) is (row - mean)·q / |row - mean|: keeping the plain rows, the
    mean and each row's centred norm gives it from one matrix-vector product, so the index holds one
    float32 matrix (1.5 KB a reply: 154 MB at 100,000) and new rows are appended, not re-centred.

    The embeddings are stored as columns (384 × replies, C order) in a buffer with room to grow: a
    product with the vector on the left then reads each of the 384 rows as one contiguous run, which
    measured 7 ms CPU a call at 100,000 replies against 14 ms for rows × vector (single thread, load 6),
    and a top-up writes the new columns in place instead of copying the whole matrix."""
    reply_ids: list[int] = field(default_factory=list)
    mention_ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    handles: list[str | None] = field(default_factory=list)  # who the past mention was from
    columns: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # dim × capacity
    size: int = 0                      # columns in use
    mean: np.ndarray | None = None     # the brand's mean embedding when the index was (re)built
    norms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # |row - mean|
    centred_at: int = 0                # rows when the mean was last computed
    last_reply_id: int = 0
    seen: set[int] = field(default_factory=set, repr=False)

    @property
    def matrix(self) -> np.ndarray:
        """The unit embeddings in use, one column a reply (a view, not a copy)."""
        return self.columns[:, :self.size]

    def append(self, rows: np.ndarray) -> None:
        """Add unit rows (n × dim) as columns, growing the buffer by a quarter when it is full."""
        need = self.size + len(rows)
        if self.columns.shape[1] < need or self.columns.shape[0] != rows.shape[1]:
            grown = np.empty((rows.shape[1], max(need, self.size + self.size // 4, 1024)), np.float32)
            if self.size:
                grown[:, :self.size] = self.matrix
            self.columns = grown
        self.columns[:, self.size:need] = rows.T
        self.size = need
        if self.mean is None or need > 1.1 * self.centred_at:  # a new mean when the index grew by a tenth
            m = self.matrix
            self.mean, self.centred_at = m.mean(axis=1).astype(np.float32), need
            # |row - mean|² = |row|² - 2 row·mean + |mean|², without a centred copy of the matrix
            sq = np.einsum("ij,ij->j", m, m) - 2 * (self.mean @ m) + float(self.mean @ self.mean)
            self.norms = np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)
        else:
            self.norms = np.concatenate([self.norms, np.linalg.norm(rows - self.mean, axis=1).astype(np.float32)])

    def scores(self, vector: np.ndarray) -> np.ndarray:
        assert self.mean is not None
        q = _unit(vector - self.mean)
        return (q @ self.matrix - float(self.mean @ q)) / np.maximum(self.norms, 1e-6)  # type: ignore[no-any-return]


_indexes: dict[tuple[str, int], _Index] = {}  # (database URL, brand id): one process may serve two databases (tests)
_lock = threading.Lock()


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORDS.findall(text or "")}


def _sent_since(session: Session, brand_id: int, after: int) -> list[tuple[int, int, str, str | None, bytes]]:
    """This brand's sent replies with id > `after`, with their mention's author and embedding.

    Two queries rather than one join: the replies alone walk the primary key from `after` (almost
    nothing once the index is built), while the join let SQLite's planner go through every sent reply
    by the state index first (94 ms a call at 100,000 replies, measured)."""
    replies = session.execute(
        sa.select(col(Reply.id), col(Reply.mention_id), col(Reply.text))
        .where(col(Reply.id) > after, sa.func.coalesce(col(Reply.state), "") == ReplyState.sent.value,
               sa.not_(col(Reply.dry_run)), col(Reply.kind) == "reply")
        .order_by(col(Reply.id))).all()
    if not replies:
        return []
    emb = MentionEmbedding.__table__  # type: ignore[attr-defined]
    about: dict[int, tuple[str | None, bytes]] = {}
    wanted = sorted({int(m) for _, m, _ in replies})
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        for mid, handle, vector in session.execute(
                sa.select(col(Mention.id), col(Mention.author_handle), emb.c.vector)
                .join(emb, emb.c.mention_id == Mention.id)
                .where(col(Mention.id).in_(chunk), col(Mention.brand_id) == brand_id)):
            about[int(mid)] = (handle, bytes(vector))
    out = [(int(r), int(m), t or "", *about[int(m)]) for r, m, t in replies if int(m) in about]
    # the high-water mark moves past replies of other brands too (they never belong to this index)
    if out and out[-1][0] != int(replies[-1][0]):
        out.append((int(replies[-1][0]), -1, "", None, b""))
    elif not out:
        out = [(int(replies[-1][0]), -1, "", None, b"")]
    return out


def index_for(session: Session, brand_id: int) -> _Index:
    """The brand's index, topped up with replies sent since it was last read (a primary-key range)."""
    with _lock:
        idx = _indexes.setdefault((str(session.get_bind().engine.url), brand_id), _Index())
        new = _sent_since(session, brand_id, idx.last_reply_id)
        if new:
            # a reply still on its way (queued, sending, failed, unknown) may be sent later under a lower
            # id than one already read: the mark stays below it, and rows read twice are skipped
            waiting = session.execute(sa.select(sa.func.min(Reply.id)).where(
                col(Reply.state).in_(OPEN_STATES), col(Reply.id) <= new[-1][0])).scalar()
            idx.last_reply_id = new[-1][0] if waiting is None else min(new[-1][0], int(waiting) - 1)
            seen = idx.seen
            new = [row for row in new if row[1] != -1 and row[0] not in seen]  # -1: only moves the mark
            seen.update(row[0] for row in new)
        if new:
            idx.append(embeddings.decode_unit([v for *_, v in new]))
            idx.reply_ids += [r for r, *_ in new]
            idx.mention_ids += [m for _, m, *_ in new]
            idx.texts += [t for _, _, t, _, _ in new]
            idx.handles += [h for _, _, _, h, _ in new]
        return idx


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-6)).astype(np.float32)


def warm(session: Session) -> int:
    """Build the index of every own brand now (the dashboard calls this in its start-up thread), so the
    first mention an agent opens does not wait for it: 5.7 s at 100,000 sent replies under load 7.
    Returns the replies indexed."""
    from careline.models import Brand

    total = 0
    for brand_id in session.execute(sa.select(col(Brand.id)).where(col(Brand.competitor).is_(False))).scalars():
        total += len(index_for(session, int(brand_id)).reply_ids)
    log.info("reply suggestions: %d sent replies indexed", total)
    return total


def forget(brand_id: int | None = None) -> None:
    """Drop the cached index (tests; a brand's mentions erased)."""
    with _lock:
        for key in [k for k in _indexes if brand_id is None or k[1] == brand_id]:
            del _indexes[key]


def _readdress(text: str, old: str, new: str) -> str:
    """The past reply with the past author's @handle replaced by `new` (one compiled pattern, not one a handle)."""
    return _MENTION.sub(lambda m: new if m.group(1).lower() == old.lower() else m.group(0), text)


def _template_of(text: str, fixed: dict[str, set[str]]) -> str | None:
    words = _words(text)
    best, best_share = None, TEMPLATE_OVERLAP
    for name, fwords in fixed.items():
        if fwords:
            share = len(words & fwords) / max(len(fwords), len(words))  # short replies aren't "from" long templates, nor vice versa
            if share >= best_share:
                best, best_share = name, share
    return best


def _rerank(session: Session, text: str, mention_ids: list[int], cosines: np.ndarray) -> np.ndarray:
    """EMBEDDING_WEIGHT × cosine + the rest × word overlap with each candidate's mention."""
    from careline.services.theme_terms import tokens
    from careline.services.themes import excluded_words

    skip = excluded_words(session)
    mine = set(tokens(text, skip))
    texts = dict(session.execute(sa.select(col(Mention.id), col(Mention.text))
                                 .where(col(Mention.id).in_(set(mention_ids)))).all())
    overlap = []
    for mid in mention_ids:
        theirs = set(tokens(texts.get(mid) or "", skip))
        overlap.append(len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0)
    return EMBEDDING_WEIGHT * np.clip(cosines, 0, 1) + (1 - EMBEDDING_WEIGHT) * np.asarray(overlap)


def suggest(session: Session, mention: Mention, values: dict[str, str], limit: int = TOP,
            pool: int = 50) -> list[Suggestion]:
    """The best `limit` suggestions for `mention` (see the module docstring). `values` fill template
    variables ({author}, {brand}, ...)."""
    templates = app_settings.templates(session)
    fixed = {name: _words(_VARIABLE.sub(" ", body)) for name, body in templates.items()}
    out: dict[str, Suggestion] = {}
    vector = embeddings.one(session, mention.id) if mention.id is not None and mention.brand_id is not None else None
    if vector is not None:
        idx = index_for(session, mention.brand_id)  # type: ignore[arg-type]
        if idx.reply_ids:
            # centred cosine: every mention of a brand shares a large "customer post" direction that
            # says nothing about what this one is about (see services/clustering.py)
            scores = idx.scores(vector)
            take = min(pool, len(scores))
            best = np.argpartition(-scores, take - 1)[:take]
            hybrid = _rerank(session, mention.text, [idx.mention_ids[i] for i in best], scores[best])
            order = np.argsort(-hybrid)
            scores = dict(zip(best.tolist(), hybrid.tolist()))  # type: ignore[assignment]
            for i in best[order]:
                if idx.mention_ids[i] == mention.id:
                    continue
                text = idx.texts[i]
                name = _template_of(text, fixed)
                plain = text.replace(f"@{idx.handles[i]}", "@") if idx.handles[i] else text
                key = f"t:{name}" if name else "r:" + " ".join(plain.lower().split())
                if key in out:
                    out[key].times_used += 1
                    continue
                if not name and idx.handles[i] and values.get("author"):  # address this author, not that one
                    text = _readdress(text, idx.handles[i], values["author"])  # type: ignore[arg-type]
                out[key] = Suggestion(
                    text=app_settings.render_template(templates[name], **values) if name else text,
                    score=round(float(scores[i]), 3), kind="template" if name else "past reply", template=name,
                    reply_id=idx.reply_ids[i], past_mention_id=idx.mention_ids[i], times_used=1)
    else:
        log.info("mention %s has no sentence embedding: suggesting templates by their words only", mention.id)
    mention_words = {w[:5] for w in _words(mention.text)}  # "thanks" meets "thank", "refunded" "refund"
    for name, body in templates.items():
        if f"t:{name}" not in out:
            stems = {w[:5] for w in fixed[name]}
            share = len(mention_words & stems) / max(len(stems), 1)
            out[f"t:{name}"] = Suggestion(text=app_settings.render_template(body, **values),
                                          score=round(min(UNUSED_TEMPLATE_CAP, share), 3), kind="template",
                                          template=name)
    ranked = sorted(out.values(), key=lambda s: (-s.score, s.kind, s.template or ""))[:limit]
    past = {s.past_mention_id for s in ranked if s.past_mention_id is not None}
    if past:
        texts = dict(session.execute(sa.select(col(Mention.id), col(Mention.text)).where(col(Mention.id).in_(past))).all())
        for s in ranked:
            s.past_mention_text = texts.get(s.past_mention_id)
    return ranked
