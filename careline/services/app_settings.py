"""Settings edited in the dashboard (templates, SLA, demo anchor), stored as JSON by key."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session

from careline.models import AppSetting, utcnow
from careline.services import audit

DEFAULT_TEMPLATES = {
    "Apology": "Hi {author}, we're sorry about this. Please send us a DM with your booking reference and we'll sort it out. – {brand}",
    "Thanks": "Thank you so much, {author}! We're thrilled you enjoyed it. – {brand}",
    "Answer follow-up": "Hi {author}, thanks for asking! We've sent you the details by DM. – {brand}",
}


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(AppSetting, key)
    return row.value if row is not None else default


def put(session: Session, key: str, value: Any, actor: str = "system", commit: bool = True) -> None:
    row = session.get(AppSetting, key) or AppSetting(key=key)
    row.value, row.updated_at, row.updated_by = value, utcnow(), actor
    session.add(row)
    if actor != "system":
        audit.record(session, actor, "setting", key=key)
    if commit:
        session.commit()


def sla_minutes(session: Session, default: int) -> int:
    """The first-response target: the dashboard's Settings value, else CARELINE_SLA_MINUTES."""
    return int(get(session, "sla_minutes", default))


def templates(session: Session) -> dict[str, str]:
    return dict(get(session, "reply_templates", DEFAULT_TEMPLATES))


DEFAULT_THANKS = "Thank you, {author}! – {brand}"
TEMPLATE_HELP = "Variables: {author} (the @handle), {name}, {brand}, {platform}."


def template_values(platform: str, handle: str | None, name: str | None, brand: str) -> dict[str, str]:
    """What a template's variables stand for when answering this author (the composer, the detail's
    thank-you and the Advocates page all fill templates from here)."""
    def short(text: str) -> str:
        flat = " ".join(text.split())
        return flat[:60] + ("…" if len(flat) > 60 else "")

    return {"author": "@" + short(handle) if handle else "there", "name": short(name or handle or "there"),
            "brand": brand, "platform": platform}


def fill_template(template: str, platform: str, handle: str | None, name: str | None, brand: str) -> str:
    return render_template(template, **template_values(platform, handle, name, brand))


def thanks_text(session: Session, platform: str, handle: str | None, name: str | None, brand: str) -> str:
    """The 'Thanks' template filled in for this author (the built-in wording when none is saved)."""
    return fill_template(templates(session).get("Thanks", DEFAULT_THANKS), platform, handle, name, brand)


def render_template(template: str, **values: str) -> str:
    """Fill {author}, {brand}, ... leaving unknown placeholders visible rather than failing."""

    class _Keep(dict):  # type: ignore[type-arg]
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep(values))
