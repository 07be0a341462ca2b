"""The core's own error hierarchy. Each message is one sentence a user can act on."""
from __future__ import annotations


class CarelineError(Exception):
    """Base for errors the CLI reports as one sentence (details under --verbose and in the log)."""


class ConfigError(CarelineError):
    pass


class DatabaseError(CarelineError):
    pass


class NotFound(CarelineError):
    pass


class PermissionDenied(CarelineError):
    pass


class InvalidInput(CarelineError):
    pass


class Conflict(CarelineError):
    """Someone else got there first (e.g. a reply is already queued for this mention)."""
