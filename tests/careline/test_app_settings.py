from __future__ import annotations

from sqlmodel import Session, select

from careline.models import AuditEvent
from careline.services import app_settings


def test_sla_from_dashboard_settings_wins_over_environment(session: Session) -> None:
    assert app_settings.sla_minutes(session, 120) == 120
    app_settings.put(session, "sla_minutes", 45, actor="admin")
    assert app_settings.sla_minutes(session, 120) == 45
    assert [e.action for e in session.exec(select(AuditEvent))] == ["setting"]


def test_templates_fill_known_and_keep_unknown_placeholders(session: Session) -> None:
    text = app_settings.render_template("Hi {author}, from {brand} {unknown}", author="@sam", brand="Acme Air")
    assert text == "Hi @sam, from Acme Air {unknown}"
    assert "Apology" in app_settings.templates(session)
