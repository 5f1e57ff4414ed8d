"""Authentication middleware: every route needs a credential unless it opts out.

``Authorization: Bearer <access token | API key>`` everywhere; ``Basic`` (the password being an
API key) on the Terraform backend paths, because that is what the terraform CLI sends. The auth
service resolves the credential, checks revocation and applies the per-caller API rate limit.
"""

from __future__ import annotations

import base64
import binascii

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.accounts.auth_service import AuthService, Client
from app.lib.errors import Unauthorized
from app.lib.generations import route_generations
from app.lib.net import client_ip

BASIC_AUTH_PATH_PREFIXES = ("/tf/",)


def connection_client(connection: ASGIConnection, trusted_proxies: list[str]) -> Client:
    return Client(
        ip=client_ip(connection.scope, trusted_proxies),
        user_agent=connection.headers.get("user-agent"),
        request_id=connection.scope.get("state", {}).get("request_id"),
    )


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        service: AuthService = connection.app.state.auth_service
        client = connection_client(connection, service.settings.server.trusted_proxies)
        generations = route_generations(connection.scope)
        principal = await service.authenticate(self._credential(connection), client, generations)
        connection.scope.setdefault("state", {})["principal_label"] = principal.label
        return AuthenticationResult(user=principal, auth=principal.kind)

    @staticmethod
    def _credential(connection: ASGIConnection) -> str:
        header = connection.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        basic_ok = connection.scope["path"].startswith(BASIC_AUTH_PATH_PREFIXES)
        if scheme.lower() == "bearer" and value:
            return value
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
            return password
        challenge = 'Basic realm="board3"' if basic_ok else 'Bearer realm="board3"'
        raise Unauthorized(
            "missing or unsupported credentials; send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": challenge},
        )
