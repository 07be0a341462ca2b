"""Generated stream traffic for tests, benchmarks and the offline demo: brands, post texts, Jetstream events.

Nothing here talks to a network. The texts are word salad from a fixed vocabulary with a chosen share of
posts that mention a brand keyword, which is what the matcher and the stream pipeline care about; the
events have the shape Jetstream sends (https://github.com/bluesky-social/jetstream, `commit` events for
`app.bsky.feed.post`, `identity` and `account` events in between).
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timezone

from collectors.matcher import Rule

_WORDS = ("the", "a", "my", "flight", "was", "late", "again", "love", "this", "app", "why", "is", "it", "so",
          "slow", "today", "thanks", "for", "help", "customer", "service", "never", "order", "lost", "bag",
          "great", "weekend", "coffee", "morning", "train", "delayed", "new", "phone", "update", "broke",
          "support", "team", "ticket", "refund", "please", "anyone", "else", "seeing", "this", "issue", "lol",
          "best", "day", "ever", "weather", "cat", "dog", "music", "game", "tonight", "football", "news")
_SYLLABLES = ("ka", "lo", "mi", "ra", "ve", "to", "zu", "ne", "sa", "pi", "do", "qua", "rex", "lin", "mor")


def synthetic_rules(brands: int = 50, keywords: int = 10, seed: int = 7) -> list[Rule]:
    """`brands` brands of `keywords` keywords each (some two-word phrases), one handle and one exclusion each."""
    rng = random.Random(seed)
    rules = []
    for b in range(brands):
        name = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + str(b)
        terms = [name] + [f"{name} {rng.choice(('app', 'air', 'bank', 'care', 'shop'))}{k}" if k % 3 == 0
                          else f"{name}{k}" for k in range(1, keywords)]
        rules.append(Rule(brand=name.title(), terms=tuple(terms[:keywords]), handles=(f"{name}help",),
                          exclusions=(f"{name} stock",)))
    return rules


def synthetic_text(rng: random.Random, rules: list[Rule], hit_rate: float = 0.01, words: int = 24) -> str:
    """A post of about `words` words; with probability `hit_rate` one brand keyword or handle is in it."""
    out = [rng.choice(_WORDS) for _ in range(rng.randint(max(1, words // 3), words * 2))]
    if rules and rng.random() < hit_rate:
        rule = rng.choice(rules)
        pick = rng.choice(rule.terms + tuple("@" + h for h in rule.handles))
        out.insert(rng.randrange(len(out) + 1), pick.title() if rng.random() < 0.5 else pick)
    return " ".join(out)


def jetstream_post(seq: int, text: str, time_us: int, did: str | None = None) -> dict[str, object]:
    """One Jetstream `commit` create event for an app.bsky.feed.post record."""
    did = did or f"did:plc:replay{seq % 997:04d}"
    created = datetime.fromtimestamp(time_us / 1e6, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": f"rev{seq}", "operation": "create", "collection": "app.bsky.feed.post",
                       "rkey": f"3l{seq:011d}", "cid": f"bafyreplay{seq}",
                       "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": created,
                                  "langs": ["en"]}}}


def jetstream_delete(seq: int, rkey: str, did: str, time_us: int) -> dict[str, object]:
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": f"rev{seq}", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey}}


def jetstream_events(count: int, rules: list[Rule], *, hit_rate: float = 0.05, start_us: int | None = None,
                     step_us: int = 40_000, seed: int = 11, extras: bool = True) -> Iterator[str]:
    """`count` Jetstream events as JSON lines, time_us strictly increasing by `step_us` (40 ms = 25 posts/s).

    With `extras`, about 1 in 50 is an identity/account event and 1 in 100 deletes an earlier post.
    """
    rng = random.Random(seed)
    now_us = start_us if start_us is not None else int(datetime.now(timezone.utc).timestamp() * 1e6)
    posted: list[tuple[str, str]] = []
    for seq in range(count):
        time_us = now_us + seq * step_us
        roll = rng.random() if extras else 1.0
        if roll < 0.01 and posted:
            did, rkey = posted[rng.randrange(len(posted))]
            event: dict[str, object] = jetstream_delete(seq, rkey, did, time_us)
        elif roll < 0.02:
            event = {"did": f"did:plc:replay{seq % 997:04d}", "time_us": time_us, "kind": "identity",
                     "identity": {"did": f"did:plc:replay{seq % 997:04d}", "handle": "someone.bsky.social",
                                  "seq": seq, "time": "2026-01-01T00:00:00Z"}}
        else:
            event = jetstream_post(seq, synthetic_text(rng, rules, hit_rate), time_us)
            commit = event["commit"]
            assert isinstance(commit, dict)
            posted.append((str(event["did"]), str(commit["rkey"])))
        yield json.dumps(event, separators=(",", ":"))
