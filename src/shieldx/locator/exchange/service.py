"""RFC 8693 token exchange: an external ID token in, a locator access token out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shieldx.locator.exchange.oidc import IdTokenVerifier, InvalidIdToken
from shieldx.locator.tokens.domain import EXCHANGE_GRANT_TYPE, InvalidTokenRequest
from shieldx.locator.tokens.service import IssuedToken, LocatorService

GRANT_TYPE = EXCHANGE_GRANT_TYPE
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
SUBJECT_TOKEN_TYPES = frozenset(
    {"urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"}
)


class ExchangeError(Exception):
    """An RFC 6749 section 5.2 error: `error` is the code, the message the description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ExchangeRequest:
    """The parameters of a token-exchange request that passed the shape checks."""

    subject_token: str
    audience: str
    scopes: list[str]


def parse_request(params: Mapping[str, str]) -> ExchangeRequest:
    """Check grant type, token types and audience (ExchangeError when something is off)."""
    grant = params.get("grant_type")
    if grant != GRANT_TYPE:
        raise ExchangeError("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}")
    subject_token = params.get("subject_token", "")
    if not subject_token:
        raise ExchangeError("invalid_request", "subject_token is required")
    token_type = params.get("subject_token_type")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise ExchangeError(
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:id_token (or :jwt)",
        )
    requested = params.get("requested_token_type")
    if requested not in (None, "", ACCESS_TOKEN_TYPE):
        raise ExchangeError("invalid_request", f"only {ACCESS_TOKEN_TYPE} can be issued")
    audience = params.get("audience", "")
    if not audience:
        raise ExchangeError("invalid_target", "audience is required: name the resource server")
    return ExchangeRequest(
        subject_token=subject_token, audience=audience, scopes=params.get("scope", "").split()
    )


class TokenExchange:
    """Verifies the subject token with the external issuer and issues a token for its subject."""

    def __init__(self, service: LocatorService, verifier: IdTokenVerifier) -> None:
        self._service = service
        self._verifier = verifier

    def exchange(self, request: ExchangeRequest, *, client_id: str, tenant: str) -> IssuedToken:
        """Blocking (may fetch the JWKS): the locator token for the ID token's subject."""
        try:
            claims = self._verifier.verify(request.subject_token)
        except InvalidIdToken as exc:
            self._service.metrics.exchanges.labels("rejected").inc()
            raise ExchangeError("invalid_grant", f"the subject token is not valid: {exc}") from None
        try:
            issued = self._service.issue(
                subject=claims["sub"],
                audience=request.audience,
                scopes=request.scopes,
                client_id=client_id,
                tenant=tenant,
                idp=self._verifier.issuer,
            )
        except InvalidTokenRequest as exc:
            raise ExchangeError("invalid_request", str(exc)) from None
        self._service.metrics.exchanges.labels("issued").inc()
        return issued
