"""A second factor for admin operations: TOTP (RFC 6238) per API key, with replay protection.

With `security.admin_mfa` on, the operations that change who may do what or what is trusted
(creating and revoking API keys, rotating the token signing key, running a chaos experiment,
a disaster-recovery failover) need the code of a factor enrolled for the calling key, sent in
the `ShieldX-OTP` header. A code is accepted once: its time step is stored and a code of the
same or an earlier step is refused, so an overheard code cannot be replayed.

pyotp computes the codes (RFC 6238 / RFC 4226); what it does not do (binding a factor to a
key, sealing the secret at rest, the replay bound) is here.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import pyotp
import sqlalchemy as sa
import structlog
from fastapi import Depends, Header

from shieldx.platform.auth import Principal
from shieldx.platform.crypto import DecryptionError, Keyring
from shieldx.platform.db import Database
from shieldx.platform.errors import Problem

log = structlog.get_logger("shieldx.mfa")

OTP_HEADER = "ShieldX-OTP"
ISSUER = "ShieldX"
PERIOD = 30
DIGITS = 6
# One step either side: a code typed as the step turns over still counts (RFC 6238 §5.2).
WINDOW = 1

metadata = sa.MetaData()
mfa_factors = sa.Table(
    "mfa_factors",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),  # sealed with the keyring (AES-256-GCM)
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Enrollment:
    """A new factor's secret, shown once."""

    secret: str
    uri: str


def _context(key_id: str) -> str:
    return f"platform.mfa:{key_id}"


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step within the window whose code equals CODE, or None."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int(now) // PERIOD
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class MfaStore:
    """Factors by API key id: enrol, confirm with a first code, verify codes once each."""

    def __init__(self, db: Database, keyring: Keyring, clock: Callable[[], float] = time.time):
        self.db = db
        self.keyring = keyring
        self.clock = clock

    def enroll(self, principal: Principal) -> Enrollment:
        """A fresh unconfirmed factor for PRINCIPAL's key (replacing an unconfirmed one)."""
        secret = pyotp.random_base32()
        sealed = self.keyring.encrypt(secret.encode(), _context(principal.key_id))
        with self.db.write() as conn:
            existing = conn.execute(
                sa.select(mfa_factors.c.confirmed).where(mfa_factors.c.key_id == principal.key_id)
            ).first()
            if existing is not None and existing.confirmed:
                raise Problem(
                    409,
                    "this key already has a confirmed second factor: remove it first "
                    "(DELETE /admin/mfa with a current code)",
                    type="mfa-already-enrolled",
                )
            conn.execute(sa.delete(mfa_factors).where(mfa_factors.c.key_id == principal.key_id))
            conn.execute(
                sa.insert(mfa_factors).values(
                    key_id=principal.key_id,
                    secret=sealed,
                    confirmed=False,
                    last_step=0,
                    created_at=datetime.now(UTC),
                )
            )
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
            name=principal.name or principal.key_id, issuer_name=ISSUER
        )
        log.info("mfa.enrolled", key_id=principal.key_id)
        return Enrollment(secret=secret, uri=uri)

    def status(self, key_id: str) -> str:
        """'none', 'pending' (enrolled, not confirmed) or 'active'."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(mfa_factors.c.confirmed).where(mfa_factors.c.key_id == key_id)
            ).first()
        if row is None:
            return "none"
        return "active" if row.confirmed else "pending"

    def confirm(self, key_id: str, code: str) -> None:
        """Activate a pending factor with its first code."""
        self._use(key_id, code, confirming=True)
        log.info("mfa.confirmed", key_id=key_id)

    def verify(self, key_id: str, code: str) -> None:
        """Accept CODE for KEY_ID's active factor once, or raise a 403 problem."""
        self._use(key_id, code, confirming=False)

    def remove(self, key_id: str, code: str) -> None:
        """Remove KEY_ID's factor; an active one needs a current code."""
        if self.status(key_id) == "active":
            self.verify(key_id, code)
        with self.db.write() as conn:
            conn.execute(sa.delete(mfa_factors).where(mfa_factors.c.key_id == key_id))
        log.info("mfa.removed", key_id=key_id)

    def _use(self, key_id: str, code: str, *, confirming: bool) -> None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(mfa_factors).where(mfa_factors.c.key_id == key_id)).first()
        if row is None or (not confirming and not row.confirmed):
            raise Problem(
                403,
                f"this operation needs a second factor and key {key_id!r} has none confirmed: "
                "enrol with POST /admin/mfa/enroll, then POST /admin/mfa/confirm",
                type="mfa-not-enrolled",
            )
        if confirming and row.confirmed:
            raise Problem(409, "this factor is already confirmed", type="mfa-already-enrolled")
        try:
            secret = self.keyring.decrypt(row.secret, _context(key_id)).decode()
        except DecryptionError as exc:
            log.error("mfa.unreadable", key_id=key_id, reason=str(exc))
            raise Problem(403, "the second factor cannot be read", type="mfa-invalid") from exc
        step = matching_step(secret, code, self.clock())
        if step is None:
            log.warning("mfa.refused", key_id=key_id, reason="wrong code")
            raise Problem(403, f"the {OTP_HEADER} code is not valid", type="mfa-invalid")
        # Compare-and-set on the last step: of two requests carrying the same code, one wins.
        with self.db.write() as conn:
            used = conn.execute(
                sa.update(mfa_factors)
                .where(mfa_factors.c.key_id == key_id, mfa_factors.c.last_step < step)
                .values(last_step=step, confirmed=True)
            ).rowcount
        if used != 1:
            log.warning("mfa.refused", key_id=key_id, reason="replayed code")
            raise Problem(
                403,
                f"this {OTP_HEADER} code was already used: wait for the next one",
                type="mfa-replayed",
            )


OtpHeader = Annotated[str | None, Header(alias=OTP_HEADER, max_length=16)]


def otp_code(code: OtpHeader = None) -> str | None:
    """The ShieldX-OTP header of the request, if any."""
    return code


OtpCode = Annotated[str | None, Depends(otp_code)]
