"""Every query and business rule lives in a module here; pages, CLI and jobs only call them."""
# Registers the flush hook that keeps customers' open counts derived from mention statuses, whichever
# service changes a status (services/customer_counts.py): it must be live before any service flushes.
from careline.services import customer_counts  # noqa: F401
