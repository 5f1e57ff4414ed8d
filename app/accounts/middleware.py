"""Authentication middleware: every route needs a credential unless it opts out.

``Authorization: Bearer <access token | API key>`` everywhere; ``Basic`` (the password being an
API key) on the Terraform backend paths, because that is what the terraform CLI sends. After
authentication the per-caller API rate limit applies.
"""

from __future__ import annotations

import base64
import binascii

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.accounts.auth_service import AuthService, Client
from app.accounts.authz import Principal
from app.lib.errors import TooManyRequests, Unauthorized
from app.lib.net import client_ip
from app.lib.ratelimit import RateLimiter

BASIC_AUTH_PATH_PREFIXES = ("/tf/",)


def connection_client(connection: ASGIConnection, trusted_proxies: list[str]) -> Client:
    return Client(
        ip=client_ip(connection.scope, trusted_proxies),
        user_agent=connection.headers.get("user-agent"),
        request_id=connection.scope.get("state", {}).get("request_id"),
    )


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        state = connection.app.state
        service: AuthService = state.auth_service
        client = connection_client(connection, service.settings.server.trusted_proxies)
        principal = await self._principal(connection, service, client)
        limiter: RateLimiter = state.rate_limiter
        result = await limiter.hit(
            f"api:{principal.kind}:{principal.id}", service.security.rate_limit_api_per_minute, 60
        )
        if not result.allowed:
            raise TooManyRequests(
                "API rate limit exceeded",
                headers={"Retry-After": str(result.retry_after)},
                extra={"retry_after": result.retry_after},
            )
        connection.scope.setdefault("state", {})["principal_label"] = principal.label
        return AuthenticationResult(user=principal, auth=principal.kind)

    @staticmethod
    async def _principal(connection: ASGIConnection, service: AuthService, client: Client) -> Principal:
        header = connection.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        basic_ok = connection.scope["path"].startswith(BASIC_AUTH_PATH_PREFIXES)
        if scheme.lower() == "bearer" and value:
            return await service.authenticate_bearer(value, client)
        if scheme.lower() == "basic" and value and basic_ok:
            try:
                _, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                password = ""
            if not password:
                raise Unauthorized(
                    "basic auth needs an API key as the password",
                    headers={"WWW-Authenticate": 'Basic realm="board3"'},
                )
            return await service.authenticate_bearer(password, client)
        challenge = 'Basic realm="board3"' if basic_ok else 'Bearer realm="board3"'
        raise Unauthorized(
            "missing or unsupported credentials; send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": challenge},
        )
