"""Errors user_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import Conflict, NotFound, Unauthorized, ValidationError, remote


@remote
class InvalidUserInput(ValidationError):
    """The email, password or name is not acceptable."""


@remote
class EmailTaken(Conflict):
    """An account with this email already exists."""


@remote
class InvalidCredentials(Unauthorized):
    """Wrong email or password."""


@remote
class InvalidRefreshToken(Unauthorized):
    """The refresh token is unknown, expired, revoked or already used."""


@remote
class InvalidClientCredentials(Unauthorized):
    """Unknown client or wrong secret."""


@remote
class UserNotFound(NotFound):
    """No such user."""


@remote
class ClientNotFound(NotFound):
    """No such API client."""


@remote
class InvalidVerificationToken(ValidationError):
    """The verification link is unknown, spent or expired."""


@remote
class InvalidResetToken(ValidationError):
    """The password-reset link is unknown, spent or expired."""


@remote
class OidcSignInRefused(Unauthorized):
    """An OpenID sign-in that must not go ahead (an unverified email, an admin's)."""


@remote
class InvalidLoginCode(Unauthorized):
    """The one-time code of an OpenID sign-in is unknown, spent or expired."""
