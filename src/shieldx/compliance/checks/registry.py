"""Every check by the name framework files use."""

from __future__ import annotations

from shieldx.compliance.checks.access import (
    admin_mfa_enforced,
    api_keys_hashed,
    api_keys_rotated,
    rate_limits_on,
    routes_require_key,
)
from shieldx.compliance.checks.context import Check
from shieldx.compliance.checks.crypto import (
    encryption_keys_rotated,
    listeners_tls,
    no_clear_card_numbers,
    payments_sealed,
)
from shieldx.compliance.checks.monitoring import (
    audit_chain_verifies,
    honeytoken_hits_alerted,
    retention_bounded,
)

CHECKS: dict[str, Check] = {
    "routes_require_key": routes_require_key,
    "api_keys_hashed": api_keys_hashed,
    "api_keys_rotated": api_keys_rotated,
    "rate_limits_on": rate_limits_on,
    "admin_mfa_enforced": admin_mfa_enforced,
    "listeners_tls": listeners_tls,
    "payments_sealed": payments_sealed,
    "no_clear_card_numbers": no_clear_card_numbers,
    "encryption_keys_rotated": encryption_keys_rotated,
    "audit_chain_verifies": audit_chain_verifies,
    "retention_bounded": retention_bounded,
    "honeytoken_hits_alerted": honeytoken_hits_alerted,
}
