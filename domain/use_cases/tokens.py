"""Use cases: issuing, revoking and authenticating access tokens (ADR 0004)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from domain import values as v
from domain.access import Principal, Role, require_role
from domain.access_token import AccessToken, token_id
from domain.business import Business, business_id
from domain.clock import jakarta_date, utc
from domain.errors import InvalidValue, NotFound
from domain.ledger_base import LedgerBase, Written


class TokenUseCases(LedgerBase):
    def issue_token(self, by: Principal, now: datetime, *, secret_sha256_hex: str, role: str,
                    region: str | None, nibs: list[str], name: str) -> Written:
        require_role(by, "token.manage")
        try:
            r = Role(role)
        except ValueError:
            raise InvalidValue.single("role", "must be one of admin, dinas, auditor, company, "
                                              "umkm") from None
        nibs = [v.nib(n, "nibs") for n in nibs]
        if r is Role.DINAS:
            if not region:
                raise InvalidValue.single("region", "a dinas token needs a region")
            v.region_code(region, "region")
        elif r is Role.AUDITOR:
            region = v.region_prefix(region or "", "region")
        elif region:
            raise InvalidValue.single("region", f"a {r.value} token has no region")
        else:
            region = None
        if r is Role.COMPANY and not nibs:
            raise InvalidValue.single("nibs", "a company token needs at least one NIB")
        if r is Role.UMKM and len(nibs) != 1:
            raise InvalidValue.single("nibs", "an umkm token needs exactly one NIB")
        if r in (Role.ADMIN, Role.DINAS, Role.AUDITOR) and nibs:
            raise InvalidValue.single("nibs", f"a {r.value} token has no NIBs")
        self._check_token_nibs(r, nibs, jakarta_date(now))
        label = v.text(name, "name", required=False, max_len=200) or f"{r.value} token"
        token = AccessToken.issue(secret_sha256_hex=secret_sha256_hex, actor=by.actor, now=utc(now),
                                  on=jakarta_date(now), role=r.value, region=region, nibs=nibs,
                                  name=label)
        return self._save(token, creating="a token with this secret already exists")

    def _check_token_nibs(self, role: Role, nibs: list[str], today: date) -> None:
        """A company speaks for registered besar businesses, an umkm token for one UMKM."""
        for n in nibs:
            b = self._load(Business, business_id(n))
            if b is None:
                raise InvalidValue.single("nibs", f"{n} is not a registered business")
            is_umkm = v.Scale(b.scale_on(today)).is_umkm
            if role is Role.COMPANY and is_umkm:
                raise InvalidValue.single("nibs", f"{n} is not a besar business")
            if role is Role.UMKM and not is_umkm:
                raise InvalidValue.single("nibs", f"{n} is not a mikro, kecil or menengah business")

    def revoke_token(self, by: Principal, now: datetime, tid: UUID, reason: str | None) -> Written:
        require_role(by, "token.manage")
        token = self._load(AccessToken, tid)
        if token is None:
            raise NotFound(f"token {tid} not found")
        token.revoke(by.actor, utc(now), jakarta_date(now), reason)
        return self._save(token)

    def authenticate(self, secret_sha256_hex: str) -> Principal | None:
        """The principal of a live token, or None for an unknown or revoked one."""
        token = self._load(AccessToken, token_id(secret_sha256_hex), reading=True)
        if token is None or token.revoked_at is not None:
            return None
        return Principal(id=str(token.id), role=Role(token.role), name=token.name,
                         region=token.region, nibs=tuple(token.nibs))
