"""Teams, their members and leads, agents' availability, and round-robin assignment with a cap.

Round robin: the team's members in name order, starting after the one assigned last (`Team.last_assigned`),
skipping anyone away or already holding `open_cap` open mentions. Nobody eligible: the mention stays with
the team, unassigned, and the routing audit says why.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import AgentStatus, Mention, Team, TeamMember, User, utcnow
from careline.services import audit
from careline.services.priority import OPEN_STATUSES


def list_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(col(Team.name))))


def get_team(session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def by_name(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name == name.strip())).first()


def member_names(session: Session, team_id: int) -> list[str]:
    stmt = select(TeamMember.username).where(TeamMember.team_id == team_id).order_by(col(TeamMember.username))
    return list(session.exec(stmt))


def _known_users(session: Session, names: Iterable[str]) -> list[str]:
    clean = sorted({n.strip().lower() for n in names if n and n.strip()})
    if not clean:
        return []
    found = set(session.exec(select(User.username).where(col(User.username).in_(clean), col(User.active).is_(True))))
    missing = [n for n in clean if n not in found]
    if missing:
        raise InvalidInput(f"No active user named {', '.join(missing)}; add them under Settings → Users first.")
    return clean


def save_team(session: Session, actor: str, name: str, members: Iterable[str], *, lead: str | None = None,
              open_cap: int = 20, team_id: int | None = None) -> Team:
    """Create or update a team; unknown people are refused by name and nothing is saved. Audited."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("A team needs a name of 1 to 100 characters.")
    if not 1 <= int(open_cap) <= 10_000:
        raise InvalidInput("The open-mention cap per agent must be between 1 and 10,000.")
    people = _known_users(session, members)
    lead_name = _known_users(session, [lead])[0] if lead and lead.strip() else None
    team = session.get(Team, team_id) if team_id else by_name(session, name)
    clash = by_name(session, name)
    if clash is not None and team is not None and clash.id != team.id:
        raise InvalidInput(f"A team named {name!r} already exists.")
    team = team or Team(name=name)
    before = {"name": team.name, "lead": team.lead, "open_cap": team.open_cap,
              "members": member_names(session, team.id) if team.id else []}
    team.name, team.lead, team.open_cap = name, lead_name, int(open_cap)
    session.add(team)
    session.flush()
    assert team.id is not None
    session.execute(sa.delete(TeamMember).where(col(TeamMember.team_id) == team.id))
    for person in people:
        session.add(TeamMember(team_id=team.id, username=person))
    audit.record(session, actor, "team_save", team_id=team.id, before=before,
                 after={"name": name, "lead": lead_name, "open_cap": int(open_cap), "members": people})
    session.commit()
    return team


def delete_team(session: Session, actor: str, team_id: int) -> None:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    from careline.services import routing

    using = [r.name for r in routing.list_rules(session) if any(a.get("team") == team.name for a in r.actions)]
    if using:
        raise InvalidInput(f"Team {team.name!r} is used by routing rule(s) {', '.join(using)}; change them first.")
    session.execute(sa.delete(TeamMember).where(col(TeamMember.team_id) == team_id))
    session.execute(sa.update(Mention).where(col(Mention.team_id) == team_id).values(team_id=None))
    session.delete(team)
    audit.record(session, actor, "team_delete", team_id=team_id, name=team.name)
    session.commit()


def availability(session: Session) -> dict[str, bool]:
    """username → available; people without a row are available."""
    return {row.username: row.available for row in session.exec(select(AgentStatus))}


def set_available(session: Session, username: str, available: bool, actor: str) -> AgentStatus:
    """Mark an agent available or away (audited). Away agents get nothing from round robin."""
    username = _known_users(session, [username])[0]
    row = session.get(AgentStatus, username) or AgentStatus(username=username)
    before = row.available if row.updated_by else True
    row.available, row.updated_at, row.updated_by = bool(available), utcnow(), actor
    session.add(row)
    audit.record(session, actor, "availability", username=username, before=before, after=bool(available))
    session.commit()
    return row


def open_counts(session: Session, usernames: Iterable[str]) -> dict[str, int]:
    names = list(usernames)
    if not names:
        return {}
    stmt = (select(Mention.assignee, sa.func.count()).where(col(Mention.assignee).in_(names),
                                                             col(Mention.status).in_(OPEN_STATUSES))
            .group_by(col(Mention.assignee)))
    counts = {n: 0 for n in names}
    counts.update({a: int(c) for a, c in session.exec(stmt) if a})
    return counts


def next_agent(members: list[str], last: str | None, available: Mapping[str, bool], counts: Mapping[str, int],
               cap: int) -> str | None:
    """Round robin: the first eligible member after `last` (wrapping); None when nobody is eligible."""
    if not members:
        return None
    order = sorted(members)
    if last in order:
        start = order.index(last) + 1
    else:  # nobody yet, or the last one left the team: continue after where they would have been
        start = next((i for i, name in enumerate(order) if last is not None and name > last), 0)
    for k in range(len(order)):
        name = order[(start + k) % len(order)]
        if available.get(name, True) and counts.get(name, 0) < cap:
            return name
    return None
