"""The one exception tree of sealtrace.

Every error the project raises on purpose derives from :class:`SealtraceError`,
so a caller can catch all of them in one place, and the web layer maps each
class to one HTTP answer in one function (``http_api.problems``)::

    SealtraceError
    ├── InvalidInput                 the caller's input is unusable; fix it and retry   -> 400/422
    │   ├── GS1SyntaxError           a GS1 element string, AI value or Digital Link
    │   │                            is malformed (says what and where)
    │   ├── PayloadTooLarge          an upload or body is over its limit               -> 413
    │   └── UnsupportedMediaType     an upload of a type this endpoint does not take    -> 415
    ├── VerificationFailed           a code did not verify (raised only by the
    │                                ``verify_*`` functions; ``check_*`` return a result)
    ├── KeyStoreError                a key cannot be generated, stored or loaded
    │   └── PassphraseError          missing or wrong passphrase (never echoes it)
    ├── TrustError                   the trust list or a certificate chain is unusable
    │   ├── RollbackError            an older trust list than the one held
    │   └── StaleTrustError          an expired trust list (freeze attack or just old)
    ├── NotFound                     no such thing, or not visible to this caller       -> 404
    ├── Conflict                     the request contradicts stored state               -> 409
    ├── Unauthenticated              no or bad credentials                              -> 401
    ├── PermissionDenied             authenticated, but the role may not do this        -> 403
    ├── RateLimited                  too many requests; ``retry_after`` seconds         -> 429
    └── Unavailable                  a dependency (the database) is down; retry later  -> 503

Messages are written for the person who sees them; they never contain key
material or passphrases.
"""

from __future__ import annotations


class SealtraceError(Exception):
    """Base of every error sealtrace raises on purpose."""


class InvalidInput(SealtraceError, ValueError):
    """The input cannot be used as given."""


class GS1SyntaxError(InvalidInput):
    """Malformed GS1 data.

    ``position`` is the 0-based character offset in the input where the problem
    was found (``None`` when it concerns the whole input) and ``ai`` the
    Application Identifier concerned, when there is one.
    """

    def __init__(self, message: str, *, position: int | None = None, ai: str | None = None):
        where = []
        if ai is not None:
            where.append(f"AI ({ai})")
        if position is not None:
            where.append(f"at character {position + 1}")
        full = f"{message} [{', '.join(where)}]" if where else message
        super().__init__(full)
        self.reason = message
        self.position = position
        self.ai = ai


class PayloadTooLarge(InvalidInput):
    """A body or upload exceeds its size limit."""


class UnsupportedMediaType(InvalidInput):
    """An upload whose bytes are not of a type the endpoint accepts (decided by content)."""


class VerificationFailed(SealtraceError):
    """A code failed verification; ``reason`` is a stable reason code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class KeyStoreError(SealtraceError):
    """A key cannot be generated, stored or loaded."""


class PassphraseError(KeyStoreError):
    """The passphrase is missing or wrong."""


class TrustError(SealtraceError):
    """The trust list or a key's chain of trust is unusable."""


class RollbackError(TrustError):
    """A trust list older than the one already held was offered."""


class StaleTrustError(TrustError):
    """The trust list has expired."""


class NotFound(SealtraceError):
    """No such object, or the caller may not know it exists."""


class Conflict(SealtraceError):
    """The request contradicts what is stored."""


class Unauthenticated(SealtraceError):
    """No credentials, or credentials that are not valid."""


class PermissionDenied(SealtraceError):
    """The caller's role does not allow this."""


class RateLimited(SealtraceError):
    """Too many requests from this caller."""

    def __init__(self, retry_after: int, message: str = "Too many requests; try again later."):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(SealtraceError):
    """A dependency the request needs is down; retrying later may work."""
