"""Routing rules: ordered "when these conditions hold, do these actions", run when a mention is first
classified and again when a person corrects its labels.

A rule is stored as JSON (conditions: an object, every key must hold; actions: a list, run in order):
    {"intent": ["complaint"], "platform": ["x"], "keywords": ["refund", "lost bag"]}
    [{"team": "Care"}, {"tag": "baggage"}, {"priority": 10}]
Conditions and actions are small registries (`CONDITIONS`, `ACTIONS`, in services/routing_registry.py):
adding one is a function and a decorator, e.g. a customer-history condition (services/customer_routing.py)
registers itself beside these.

Saving validates everything against the database (brands, teams, people exist) and refuses with one
sentence naming the problem; nothing is saved. At run time a failing rule is logged and skipped, and the
mention is still classified and stored. Each action is audited with the rule that made it. Routing never
takes a mention away from a person: assignment actions only act on unassigned mentions, and
round robin leaves posts older than the inbox horizon with the team (a backlog must not fill the caps).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import AuditEvent, Mention, RoutingRule, utcnow
from careline.services import audit
from careline.services.routing_registry import ACTIONS as ACTIONS
from careline.services.routing_registry import CONDITIONS as CONDITIONS
from careline.services.routing_registry import Context as Context
from careline.services.routing_registry import Test as Test
from careline.services.routing_registry import action, condition
from classify.base import language_unsupported

log = logging.getLogger(__name__)
ACTOR = "routing"


def _names(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise InvalidInput(f"Condition {what!r} needs a name or a list of names.")
    return [v.strip() for v in items]


def _one_of(what: str, allowed: Sequence[str], field_name: str) -> Callable[[Any, Context], Test]:
    def build(value: Any, _ctx: Context) -> Test:
        wanted = {v.lower() for v in _names(value, what)}
        unknown = sorted(wanted - set(allowed))
        if unknown:
            raise InvalidInput(f"Unknown {what} {', '.join(unknown)} in a rule; use {', '.join(allowed)}.")
        corrected = f"corrected_{field_name}"
        if field_name in ("intent", "sentiment"):
            return lambda m: (getattr(m, corrected) or getattr(m, field_name)) in wanted
        return lambda m: getattr(m, field_name) in wanted
    return build


def _register_builtin() -> None:
    from careline.settings import PLATFORMS
    from classify.base import INTENTS, SENTIMENTS

    condition("platform")(_one_of("platform", PLATFORMS, "platform"))
    condition("intent")(_one_of("intent", INTENTS, "intent"))
    condition("sentiment")(_one_of("sentiment", SENTIMENTS, "sentiment"))


@condition("brand")
def _brand(value: Any, ctx: Context) -> Test:
    names = _names(value, "brand")
    missing = [n for n in names if n.lower() not in ctx.brands]
    if missing:
        raise InvalidInput(f"No brand named {', '.join(missing)}; a rule can only name existing brands.")
    ids = {ctx.brands[n.lower()] for n in names}
    return lambda m: m.brand_id in ids


@condition("language")
def _language(value: Any, _ctx: Context) -> Test:
    codes = {v.lower() for v in _names(value, "language")}
    return lambda m: (m.language or "").lower().split("-")[0] in codes


@condition("keywords")
def _keywords(value: Any, _ctx: Context) -> Test:
    words = _names(value, "keywords")
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), re.IGNORECASE)
    return lambda m: pattern.search(m.text or "") is not None


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"Condition {what!r} needs a whole number of followers, not {value!r}.")
    return value


@condition("min_followers")
def _min_followers(value: Any, _ctx: Context) -> Test:
    n = _count(value, "min_followers")
    return lambda m: (m.author_followers or 0) >= n


@condition("max_followers")
def _max_followers(value: Any, _ctx: Context) -> Test:
    n = _count(value, "max_followers")
    return lambda m: (m.author_followers or 0) <= n


@condition("vip_list")
def _vip_list(value: Any, _ctx: Context) -> Test:
    handles = {v.lower().lstrip("@") for v in _names(value, "vip_list")}
    return lambda m: (m.author_handle or "").lower().lstrip("@") in handles


@condition("needs_review")
def _needs_review(value: Any, _ctx: Context) -> Test:
    if not isinstance(value, bool):
        raise InvalidInput("Condition 'needs_review' must be true or false.")
    return lambda m: bool(m.needs_review) is value


@condition("unsupported_language")
def _unsupported_language(value: Any, _ctx: Context) -> Test:
    """Flagged because the model has no validated score for the mention's language (not low confidence)."""
    if not isinstance(value, bool):
        raise InvalidInput("Condition 'unsupported_language' must be true or false.")
    return lambda m: language_unsupported(m) is value


@action("team")
def _team_action(value: Any, ctx: Context) -> str:
    name = str(value or "").strip()
    if name.lower() not in ctx.teams:
        raise InvalidInput(f"No team named {name!r}; create it under Settings → Teams first.")
    return ctx.teams[name.lower()].name


@action("assign")
def _assign_action(value: Any, ctx: Context) -> str:
    name = str(value or "").strip().lower()
    if name not in ctx.people:
        raise InvalidInput(f"No active user named {name!r} to assign to.")
    return name


@action("tag")
def _tag_action(value: Any, _ctx: Context) -> str:
    tag = str(value or "").strip().lower()[:50]
    if not tag:
        raise InvalidInput("A tag action needs a tag.")
    return tag


@action("status")
def _status_action(value: Any, _ctx: Context) -> str:
    allowed = ("new", "assigned", "resolved", "ignored", "waiting")
    if value not in allowed:
        raise InvalidInput(f"A rule can set status to {', '.join(allowed)}, not {value!r}.")
    return str(value)


@action("priority")
def _priority_action(value: Any, _ctx: Context) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
        raise InvalidInput("A priority action raises or lowers by a number between -100 and 100.")
    return float(value)


_register_builtin()


@dataclass
class Compiled:
    rule: RoutingRule
    tests: list[Test]
    actions: list[tuple[str, Any]]
    # read off the row once: the run loop asks for them per mention, and an expired row would reload
    name: str = ""
    rule_id: int | None = None
    stop: bool = False

    def __post_init__(self) -> None:
        self.name, self.rule_id, self.stop = self.rule.name, self.rule.id, bool(self.rule.stop)

    def matches(self, m: Mention) -> bool:
        for test in self.tests:
            if not test(m):
                return False
        return True


def compile_rule(conditions: Any, actions: Any, ctx: Context, rule: RoutingRule | None = None) -> Compiled:
    """Validate a rule and turn it into tests; InvalidInput names the first thing that is wrong."""
    if not isinstance(conditions, dict):
        raise InvalidInput("A rule's conditions must be an object, e.g. {\"intent\": [\"complaint\"]}.")
    if not isinstance(actions, list) or not actions:
        raise InvalidInput("A rule needs at least one action, e.g. [{\"team\": \"Care\"}].")
    tests = []
    for key, value in conditions.items():
        if key not in CONDITIONS:
            raise InvalidInput(f"Unknown condition {key!r}; use one of {', '.join(sorted(CONDITIONS))}.")
        tests.append(CONDITIONS[key](value, ctx))
    steps = []
    for item in actions:
        if not isinstance(item, dict) or len(item) != 1:
            raise InvalidInput("Each action is an object with one key, e.g. {\"tag\": \"refund\"}.")
        (key, value), = item.items()
        if key not in ACTIONS:
            raise InvalidInput(f"Unknown action {key!r}; use one of {', '.join(sorted(ACTIONS))}.")
        steps.append((key, ACTIONS[key](value, ctx)))
    return Compiled(rule=rule or RoutingRule(name="(draft)"), tests=tests, actions=steps)


# --- editing -------------------------------------------------------------------------------------------

def list_rules(session: Session, enabled_only: bool = False) -> list[RoutingRule]:
    stmt = select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
    if enabled_only:
        stmt = stmt.where(col(RoutingRule.enabled).is_(True))
    return list(session.exec(stmt))


def parse_json(text: str, what: str) -> Any:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"The rule's {what} are not valid JSON ({exc.msg} at character {exc.pos}).") from None


def save_rule(session: Session, actor: str, name: str, conditions: Any, actions: Any, *,
              position: int | None = None, enabled: bool = True, stop: bool = False,
              rule_id: int | None = None) -> RoutingRule:
    """Validate and store a rule (audited). A bad rule raises InvalidInput and nothing is saved."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("A rule needs a name of 1 to 100 characters.")
    compile_rule(conditions, actions, Context.load(session))
    rule = session.get(RoutingRule, rule_id) if rule_id else None
    if rule_id and rule is None:
        raise NotFound(f"Routing rule {rule_id} does not exist.")
    clash = session.exec(select(RoutingRule).where(RoutingRule.name == name)).first()
    if clash is not None and (rule is None or clash.id != rule.id):
        raise InvalidInput(f"A routing rule named {name!r} already exists.")
    if rule is None:
        last = max((r.position for r in list_rules(session)), default=0)
        rule = RoutingRule(name=name, position=last + 10, created_by=actor)
    before = None if rule.id is None else {"name": rule.name, "conditions": rule.conditions, "actions": rule.actions,
                                           "position": rule.position, "enabled": rule.enabled, "stop": rule.stop}
    rule.name, rule.conditions, rule.actions = name, conditions, actions
    rule.enabled, rule.stop, rule.updated_at = bool(enabled), bool(stop), utcnow()
    if position is not None:
        rule.position = int(position)
    session.add(rule)
    session.flush()
    audit.record(session, actor, "routing_rule_save", rule_id=rule.id, before=before,
                 after={"name": name, "conditions": conditions, "actions": actions, "position": rule.position,
                        "enabled": rule.enabled, "stop": rule.stop})
    session.commit()
    return rule


def delete_rule(session: Session, actor: str, rule_id: int) -> None:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"Routing rule {rule_id} does not exist.")
    audit.record(session, actor, "routing_rule_delete", rule_id=rule_id, name=rule.name,
                 conditions=rule.conditions, actions=rule.actions)
    session.delete(rule)
    session.commit()


def compiled_rules(session: Session, ctx: Context | None = None) -> list[Compiled]:
    """The enabled rules, compiled once per batch; a stored rule that no longer compiles (its team was
    renamed, say) is logged and left out rather than stopping classification."""
    return rules_and_context(session, ctx)[0]


def rules_and_context(session: Session, ctx: Context | None = None) -> tuple[list[Compiled], Context | None]:
    """compiled_rules and the Context they were compiled in (None when no rule is enabled), for a run that
    needs both: loading it twice was three more round trips a batch."""
    stored = list_rules(session, enabled_only=True)
    if not stored:
        return [], None  # no rules: no need to load brands, teams and people for every classified batch
    ctx = ctx or Context.load(session)
    out = []
    for rule in stored:
        try:
            out.append(compile_rule(rule.conditions, rule.actions, ctx, rule))
        except InvalidInput as exc:
            log.error("routing rule %r is skipped: %s", rule.name, exc)
    return out, ctx


def previous_boost(session: Session, mention_id: int) -> float:
    """Priority points routing already added to this mention (from its audit), so a re-run replaces them."""
    events = session.exec(select(AuditEvent).where(AuditEvent.mention_id == mention_id, AuditEvent.actor == ACTOR,
                                                   AuditEvent.action == "route"))
    return sum(float((e.detail or {}).get("priority", 0) or 0) for e in events)


def describe(conditions: dict[str, Any], actions: Iterable[dict[str, Any]]) -> str:
    """'intent=complaint, platform=x → team Care, tag baggage' for lists and the audit view."""
    when = ", ".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in conditions.items())
    then = ", ".join(f"{k} {v}" for a in actions for k, v in a.items())
    return f"{when or 'every mention'} → {then}"


# Conditions about the customer behind a mention register themselves (VIP, complaint history, open cases).
from careline.services import customer_routing  # noqa: E402,F401
