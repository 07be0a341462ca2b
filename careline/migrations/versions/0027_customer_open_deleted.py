"""customers: the open count leaves out posts their author deleted; recount the customers it changes

Revision ID: 0027_customer_open_deleted
Revises: 0026_search_word_rule

`customer.open_count` is a stored derived value (services/customer_counts.py keeps it). From this revision
a post its author deleted is no open case, as it is no longer in the inbox, so a database that marked open
posts deleted before holds counts that are too high. Only customers with an open, deleted post can change:
they are found through ix_mention_deleted (the partial index of the deleted rows, usually few) and only
their open count is recomputed. The rule is written out as of this revision rather than imported, so a
later change to the service does not change what this migration did. The downgrade recounts the same
customers with deleted posts counted again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0027_customer_open_deleted"
down_revision = "0026_search_word_rule"
branch_labels = None
depends_on = None

OPEN = ("new", "assigned")  # priority.OPEN_STATUSES, as of 0027
_mention = sa.table("mention", sa.column("id"), sa.column("case_id"), sa.column("platform"),
                    sa.column("author_handle"), sa.column("status"), sa.column("brand_id"), sa.column("deleted_at"))
_identity = sa.table("customer_identity", sa.column("customer_id"), sa.column("platform"), sa.column("handle"))
_customer = sa.table("customer", sa.column("id"), sa.column("open_count"))
_brand = sa.table("brand", sa.column("id"), sa.column("competitor", sa.Boolean))


def _recount(*, count_deleted: bool) -> None:
    m, ci, c = _mention, _identity, _customer
    posts = m.join(ci, sa.and_(m.c.platform == ci.c.platform, m.c.author_handle == ci.c.handle))
    touched = sa.select(ci.c.customer_id).select_from(posts).where(m.c.deleted_at.is_not(None),
                                                                   m.c.status.in_(OPEN))
    rivals = sa.select(_brand.c.id).where(_brand.c.competitor.is_(True))
    counted = [ci.c.customer_id == c.c.id, m.c.status.in_(OPEN),
               sa.or_(m.c.brand_id.is_(None), m.c.brand_id.not_in(rivals))]
    if not count_deleted:
        counted.append(m.c.deleted_at.is_(None))
    # a case counts once however many of its posts are open (customer_counts.count_columns)
    open_cases = sa.select(sa.func.count(sa.distinct(sa.func.coalesce(m.c.case_id, m.c.id)))).select_from(
        posts).where(*counted).scalar_subquery()
    op.get_bind().execute(sa.update(c).where(c.c.id.in_(touched)).values(open_count=open_cases))


def upgrade() -> None:
    _recount(count_deleted=False)


def downgrade() -> None:
    _recount(count_deleted=True)
