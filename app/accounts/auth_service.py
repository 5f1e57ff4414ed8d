"""Registration, login, token refresh with reuse detection, sessions, and request authentication."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from cachetools import LRUCache

from app.accounts import apikey_auth, credentials, orgs
from app.accounts.authz import Principal
from app.accounts.credentials import API_KEY_PREFIX, REFRESH_PREFIX, InvalidToken
from app.accounts.emails import normalize_email
from app.accounts.schemas import (
    LoginRequest,
    MeResponse,
    OrganizationRead,
    RegisterRequest,
    RegisterResponse,
    SessionRead,
    TokenPair,
    UserRead,
)
from app.accounts.signin_limits import SignInLimits
from app.accounts.tables import ApiKey, Organization, RefreshToken, Session, User
from app.config import Settings
from app.db import on_unique_violation, transaction
from app.events import audit
from app.lib.clock import utcnow
from app.lib.errors import (
    BadRequest,
    Conflict,
    FieldError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
    not_found,
)
from app.lib.gate import Admission, RequestGate
from app.lib.outage import REDIS_FAULTS
from app.lib.windows import Windows

log = logging.getLogger("board3.auth")

LOGIN_FAILED = "invalid email or password"
API_KEY_TOUCH_INTERVAL = dt.timedelta(seconds=60)
VERIFIED_TOKENS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class RunTokens:
    """How to recognise and check the credential of a pipeline run (given by the composition root:
    runs belong to the pipelines domain, which sits above accounts)."""

    prefix: str
    authenticate: Callable[[str, Client], Awaitable[Principal]]


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request comes from (for sessions, audit and rate limits)."""

    ip: str | None
    user_agent: str | None
    request_id: str | None


def user_principal(
    user_id: uuid.UUID,
    email: str,
    session_id: uuid.UUID | None,
    client: Client,
    generations: Mapping[str, str] | None = None,
) -> Principal:
    return Principal(
        kind="user",
        id=user_id,
        label=email,
        user_id=user_id,
        session_id=session_id,
        ip=client.ip,
        user_agent=client.user_agent,
        request_id=client.request_id,
        generations=generations,
    )


def user_read(row: User) -> UserRead:
    return UserRead(id=row.id, email=row.email, name=row.name, created_at=row.created_at)


def _email_taken() -> Conflict:
    return Conflict(
        "an account with this email already exists",
        errors=[FieldError("email", "already registered")],
        code="email-taken",
    )


class AuthService:
    """Account life cycle and authentication. One instance per process (holds the signing secret)."""

    def __init__(
        self,
        settings: Settings,
        jwt_secret: str,
        gate: RequestGate,
        windows: Windows,
        run_tokens: RunTokens | None = None,
    ) -> None:
        self.settings = settings
        self.security = settings.security
        self._secret = jwt_secret
        self._gate = gate
        self._run_tokens = run_tokens
        self._limits = SignInLimits(windows, settings.security)
        self._verified: LRUCache[str, credentials.AccessClaims] = LRUCache(VERIFIED_TOKENS_KEPT)
        self._keys = apikey_auth.KeyMemory()
        self._restoring = asyncio.Lock()
        self._restored = 0  # how many times this process restored the revocation marks
        self._marks_unsynced = False  # a revocation mark could not be written (Redis was down)

    # --- register / login -----------------------------------------------------------------------

    def _password_errors(self, password: str) -> list[FieldError]:
        minimum = self.security.password_min_length
        if len(password) < minimum:
            return [FieldError("password", f"must be at least {minimum} characters")]
        if password.strip() == "":
            return [FieldError("password", "must not be blank")]
        return []

    async def register(self, data: RegisterRequest, client: Client) -> RegisterResponse:
        errors: list[FieldError] = []  # every failing field at once, not one per attempt
        try:
            email = normalize_email(data.email)
        except ValidationFailed as exc:
            errors += exc.errors
            email = data.email.strip().lower()  # still counted by the rate limit
        await self._limits.register(email, client.ip)
        errors += self._password_errors(data.password)
        name = data.name.strip()
        if not name:
            errors.append(FieldError("name", "must not be blank"))
        if errors:
            raise ValidationFailed(f"invalid value for {', '.join(e.field for e in errors)}", errors=errors)
        if await User.exists().where(User.email == email):  # spare the argon2 hash
            raise _email_taken()
        password_hash = await credentials.hash_password(data.password)
        org_name = (data.organization or f"{name}'s organization").strip() or f"{name}'s organization"
        now = utcnow()
        with on_unique_violation(_email_taken()):
            async with transaction():
                user = User(email=email, name=name, password_hash=password_hash, created_at=now)
                await user.save()
                principal = user_principal(user.id, email, None, client)
                await audit.record(
                    principal,
                    "user.register",
                    organization_id=None,
                    object_type="user",
                    object_id=user.id,
                    details={"email": email},
                )
                org = await orgs.create_organization_for(principal, org_name, None)
                pair, _ = await self._new_session(user, client, now)
        return RegisterResponse(
            user=user_read(user),
            organization=OrganizationRead(
                id=org.id,
                slug=org.slug,
                name=org.name,
                created_at=org.created_at,
                updated_at=org.updated_at,
                role="owner",
            ),
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )

    async def login(self, data: LoginRequest, client: Client) -> TokenPair:
        email = normalize_email(data.email)
        await self._limits.login(email, client.ip)
        under_attack = await self._limits.account_under_attack(email)
        user = await User.objects().where(User.email == email).first()
        await self._limits.refuse_unless_known(under_attack, user.id if user else None, client.ip)
        ok = await credentials.verify_password(user.password_hash if user else None, data.password)
        if user is None or not ok or not user.is_active:
            await self._limits.failed(email)
            log.info("login failed", extra={"ip": client.ip})
            raise Unauthorized(LOGIN_FAILED, code="login-failed")
        now = utcnow()
        async with transaction():
            pair, session_id = await self._new_session(user, client, now)
            await audit.record(
                user_principal(user.id, user.email, session_id, client),
                "user.login",
                organization_id=None,
                object_type="session",
                object_id=session_id,
            )
        return pair

    async def _new_session(self, user: User, client: Client, now: dt.datetime) -> tuple[TokenPair, uuid.UUID]:
        session = Session(
            user=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + dt.timedelta(seconds=self.security.refresh_token_ttl),
            ip=client.ip,
            user_agent=(client.user_agent or "")[:512] or None,
        )
        await session.save()
        refresh = credentials.new_secret(REFRESH_PREFIX)
        await RefreshToken.insert(
            RefreshToken(session=session.id, token_hash=credentials.sha256_hex(refresh), created_at=now)
        )
        access, ttl = credentials.issue_access_token(
            self._secret, user.id, session.id, user.email, self.security.access_token_ttl, now
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=ttl), session.id

    # --- refresh rotation -----------------------------------------------------------------------

    async def refresh(self, refresh_token: str, client: Client) -> TokenPair:
        await self._limits.refresh(client.ip)
        invalid = Unauthorized("refresh token is invalid or expired", code="invalid-refresh-token")
        if not refresh_token.startswith(REFRESH_PREFIX):
            raise invalid
        token_hash = credentials.sha256_hex(refresh_token)
        row = (
            await RefreshToken.select(
                RefreshToken.id,
                RefreshToken.used_at,
                RefreshToken.session.id,
                RefreshToken.session.user,
                RefreshToken.session._.user._.email,
                RefreshToken.session.revoked_at,
                RefreshToken.session.expires_at,
            )
            .where(RefreshToken.token_hash == token_hash)
            .first()
        )
        if row is None:
            raise invalid
        session_id: uuid.UUID = row["session.id"]
        now = utcnow()
        if row["session.revoked_at"] is not None or row["session.expires_at"] <= now:
            raise invalid
        owner = user_principal(row["session.user"], row["session.user.email"], session_id, client)
        if row["used_at"] is not None:
            await self._reuse_detected(owner)
            raise invalid
        new_refresh = credentials.new_secret(REFRESH_PREFIX)
        async with transaction():
            claimed = (
                await RefreshToken.update({RefreshToken.used_at: now})
                .where((RefreshToken.id == row["id"]) & RefreshToken.used_at.is_null())
                .returning(RefreshToken.id)
            )
            if claimed:
                await RefreshToken.insert(
                    RefreshToken(
                        session=session_id, token_hash=credentials.sha256_hex(new_refresh), created_at=now
                    )
                )
                await Session.update({Session.last_used_at: now}).where(Session.id == session_id)
        if not claimed:  # another request rotated it first: the same token was used twice
            await self._reuse_detected(owner)
            raise invalid
        access, ttl = credentials.issue_access_token(
            self._secret,
            row["session.user"],
            session_id,
            row["session.user.email"],
            self.security.access_token_ttl,
            now,
        )
        return TokenPair(access_token=access, refresh_token=new_refresh, expires_in=ttl)

    async def _reuse_detected(self, owner: Principal) -> None:
        """A rotated refresh token came back: someone holds a copy. End the whole session."""
        assert owner.session_id is not None
        log.warning(
            "refresh token reuse detected; session revoked", extra={"session_id": str(owner.session_id)}
        )
        await self._revoke(owner.session_id, "refresh_token_reuse", owner)

    # --- sessions ---------------------------------------------------------------------------------

    async def _revoke(self, session_id: uuid.UUID, reason: str, principal: Principal) -> None:
        now = utcnow()
        async with transaction():
            changed = (
                await Session.update({Session.revoked_at: now, Session.revoked_reason: reason})
                .where((Session.id == session_id) & Session.revoked_at.is_null())
                .returning(Session.id)
            )
            if changed:
                await audit.record(
                    principal,
                    "session.revoke",
                    organization_id=None,
                    object_type="session",
                    object_id=session_id,
                    details={"reason": reason},
                )
        # Access tokens of this session die at once: every request checks this mark (it only has
        # to outlive the tokens, which expire by themselves).
        try:
            await self._gate.mark(f"session:{session_id}", self._mark_ttl)
        except REDIS_FAULTS:
            # The session is revoked in the database; the mark is written, with every other
            # recent one, before this process admits the next request on a session.
            self._marks_unsynced = True
            raise

    @property
    def _mark_ttl(self) -> int:
        return self.security.access_token_ttl + 60

    async def restore_marks(self, seen: int) -> None:
        """Write the revocation marks of every session revoked within an access token's lifetime
        (the database's ``revoked_at`` is the truth) and the marks' epoch. One restorer per
        process at a time; ``seen`` is ``_restored`` as the caller last saw it, so callers that
        queued behind a restorer do not repeat its work."""
        async with self._restoring:
            if self._restored != seen:
                return
            now = utcnow()
            rows = await Session.select(Session.id, Session.revoked_at).where(
                Session.revoked_at > now - dt.timedelta(seconds=self._mark_ttl)
            )
            marks = {
                f"session:{r['id']}": max(1, self._mark_ttl - int((now - r["revoked_at"]).total_seconds()))
                for r in rows
            }
            await self._gate.restore_marks(marks)
            self._marks_unsynced = False
            self._restored += 1
        log.info("revocation marks restored from the database", extra={"sessions": len(marks)})

    async def _admit(self, rate_key: str, mark: str | None, generations: Sequence[str]) -> Admission:
        """The gate's answer for a request, restoring lost revocation marks first when needed."""
        limit = self.security.rate_limit_api_per_minute
        for _ in range(3):
            seen = self._restored
            if self._marks_unsynced and mark is not None:
                await self.restore_marks(seen)
                continue
            admission = await self._gate.admit(rate_key, limit, 60, mark, generations)
            if not admission.marks_lost:
                return admission
            await self.restore_marks(seen)
        raise ServiceUnavailable("revocation marks could not be restored; retry shortly")

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            raise BadRequest("only a logged-in user can log out; an API key is revoked instead")
        await self._revoke(principal.session_id, "logout", principal)

    async def list_sessions(self, principal: Principal) -> list[SessionRead]:
        user_id = self._require_user(principal)
        rows = (
            await Session.objects()
            .where((Session.user == user_id) & Session.revoked_at.is_null() & (Session.expires_at > utcnow()))
            .order_by(Session.created_at, ascending=False)
        )
        return [
            SessionRead(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                ip=s.ip,
                user_agent=s.user_agent,
                current=s.id == principal.session_id,
            )
            for s in rows
        ]

    async def revoke_session(self, principal: Principal, session_id: uuid.UUID) -> None:
        user_id = self._require_user(principal)
        exists = await Session.exists().where((Session.id == session_id) & (Session.user == user_id))
        if not exists:
            raise not_found("session")
        await self._revoke(session_id, "revoked_by_user", principal)

    @staticmethod
    def _require_user(principal: Principal) -> uuid.UUID:
        if principal.user_id is None or principal.kind != "user":
            raise BadRequest("this endpoint is for users logged in with a password, not API keys")
        return principal.user_id

    # --- me -----------------------------------------------------------------------------------------

    async def me(self, principal: Principal) -> MeResponse:
        if principal.kind == "user":
            assert principal.user_id is not None
            user = await User.objects().where(User.id == principal.user_id).first()
            if user is None:
                raise Unauthorized("account no longer exists")
            return MeResponse(
                kind="user",
                user=user_read(user),
                organizations=await orgs.organizations_of_user(user.id),
                session_id=principal.session_id,
            )
        organizations = []
        if principal.organization_id is not None:
            org = await Organization.objects().where(Organization.id == principal.organization_id).first()
            if org is not None:
                organizations.append(orgs.org_read(org, None))
        return MeResponse(
            kind=principal.kind, user=None, organizations=organizations, scopes=sorted(principal.scopes or [])
        )

    # --- authentication of requests ---------------------------------------------------------------

    async def authenticate(
        self, credential: str, client: Client, generations: Sequence[str] = ()
    ) -> Principal:
        """Resolve a bearer credential (an API key or a JWT access token) and admit the request.

        One gate call answers both "is this session revoked?" and "is this caller over its API
        rate limit?", and reads the tokens of the ``generations`` the route depends on (one Redis
        round trip in production). A JWT needs no database query: it names the user and carries
        the email; revoking the session is how it ends early. An API key needs at most one
        (``app.accounts.apikey_auth``).
        """
        if credential.startswith(API_KEY_PREFIX):
            return await self._authenticate_key(credential, client, generations)
        if self._run_tokens is not None and credential.startswith(self._run_tokens.prefix):
            run = await self._run_tokens.authenticate(credential, client)
            tokens = self._admitted(await self._admit(f"api:run:{run.id}", None, generations), generations)
            return dataclasses.replace(run, generations=tokens) if tokens else run
        claims = self._verify(credential)
        mark = f"session:{claims.session_id}"
        admission = await self._admit(f"api:user:{claims.user_id}", mark, generations)
        if admission.revoked:
            raise Unauthorized("session has been revoked", code="session-revoked")
        tokens = self._admitted(admission, generations)
        label = claims.email or f"user:{claims.user_id}"
        return user_principal(claims.user_id, label, claims.session_id, client, tokens)

    @staticmethod
    def _admitted(admission: Admission, generations: Sequence[str]) -> dict[str, str] | None:
        """Refuse a caller over its rate limit; the generation tokens read for the route."""
        assert admission.rate is not None
        if not admission.rate.allowed:
            retry = str(admission.rate.retry_after)
            raise TooManyRequests(
                "API rate limit exceeded",
                headers={"Retry-After": retry},
                extra={"retry_after": admission.rate.retry_after},
            )
        if not generations or not admission.tokens:
            return None
        return dict(zip(generations, admission.tokens[: len(generations)], strict=True))

    async def _authenticate_key(self, key: str, client: Client, generations: Sequence[str]) -> Principal:
        """An API key: on first sight the database is asked before the gate; once the key's id is
        known, the gate reads the key's generation tokens too and the database is asked only when
        they changed (revocation, rotation, a membership change) or the answer is a minute old."""
        digest = credentials.sha256_hex(key)
        known = self._keys.names.get(digest)
        if known is None:
            facts = self._check_key(await apikey_auth.load(digest))
            self._keys.learn(digest, facts)
            admission = await self._admit(f"api:api_key:{facts.id}", None, generations)
        else:
            key_id, names = known
            admission = await self._admit(f"api:api_key:{key_id}", None, (*generations, *names))
            stamp = admission.tokens[len(generations) :]
            remembered = self._keys.recall(digest, stamp) if stamp else None
            if remembered is None:
                remembered = await apikey_auth.load(digest)  # None once the key was rotated
                if remembered is not None and stamp:
                    self._keys.remember(digest, stamp, remembered)
            facts = self._check_key(remembered)
        tokens = self._admitted(admission, generations)
        now = utcnow()
        if facts.last_used_at is None or now - facts.last_used_at > API_KEY_TOUCH_INTERVAL:
            await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == facts.id)
            self._keys.touched(digest, now)
        return Principal(
            kind="api_key",
            id=facts.id,
            label=f"api-key:{facts.prefix}",
            organization_id=facts.organization_id,
            organization_slug=facts.organization_slug,
            scopes=facts.scopes,
            ip=client.ip,
            user_agent=client.user_agent,
            request_id=client.request_id,
            generations=tokens,
            extra={"creator_id": facts.created_by},
        )

    @staticmethod
    def _check_key(facts: apikey_auth.KeyFacts | None) -> apikey_auth.KeyFacts:
        if facts is None or facts.revoked or (facts.expires_at is not None and facts.expires_at <= utcnow()):
            raise Unauthorized("API key is invalid, expired or revoked", code="invalid-api-key")
        if not facts.creator_is_member:
            raise Unauthorized(
                "API key no longer works: the member who created it has left the organization",
                code="api-key-creator-removed",
            )
        return facts

    def _verify(self, token: str) -> credentials.AccessClaims:
        """Verify an access token, remembering tokens already verified: a client sends the same
        token many times, and the HMAC check of a given string cannot change its answer. Expiry is
        checked on every use; revocation is the gate's business."""
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = credentials.decode_access_token(self._secret, token)
            except InvalidToken:
                raise Unauthorized("access token is invalid or expired", code="invalid-token") from None
            self._verified[token] = claims
        elif claims.expires_at <= utcnow():
            self._verified.pop(token, None)
            raise Unauthorized("access token is invalid or expired", code="invalid-token")
        return claims
