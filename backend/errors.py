"""What the core and the services refuse or cannot do, as domain errors without HTTP codes.

Each carries a message a person understands (Chinese for residents and agency staff), a stable
`reason` code where callers tell cases apart, and the input `field` it concerns when there is
one. backend/api maps each kind to an HTTP status once (NotFound 404, Conflict 409, Refused 422,
Unavailable 503); the command line prints the message. A bug (KeyError, TypeError, ...) is never
one of these, so it is never mistaken for a refusal.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field


class NotFound(DomainError):
    """No such thing, or none the caller may see (the two are not told apart)."""


class Conflict(DomainError):
    """The thing is not in a state that allows this now (already paid, another in progress)."""


class Refused(DomainError):
    """The request breaks a rule: an amount too large, a date outside the window, a reused key."""


class Unavailable(DomainError):
    """An outside system or a resource cannot serve now; the same request may succeed later."""
