"""Key rotation: re-encrypt the ledger's sealed values with the keyring's active key.

Sealed values carry the id of the key that sealed them, so old values stay readable while
the retired key is still in the keyring; `shieldx credits reseal` moves them to the active
key, after which the retired key can be removed. Events are never sealed (so the hash
chain is unaffected by a rotation).
"""

from __future__ import annotations

import sqlalchemy as sa

from shieldx.credits.tables import command_log, payments, thresholds
from shieldx.platform.crypto import Keyring
from shieldx.platform.db import Database


def reseal_all(db: Database, keyring: Keyring) -> dict[str, int]:
    """Re-encrypt payments, webhook secrets and sealed command-log answers; counts per kind."""
    counts = {"payments": 0, "secrets": 0, "answers": 0}
    active = keyring.active_id
    with db.write() as conn:
        for row in conn.execute(sa.select(payments)).all():
            if row.key_id == active:
                continue
            context = f"credits.payment:{row.account_id}"
            sealed = keyring.encrypt(keyring.decrypt(row.details, context), context)
            conn.execute(
                payments.update()
                .where(payments.c.transaction_id == row.transaction_id)
                .values(details=sealed, key_id=active)
            )
            counts["payments"] += 1
        for row in conn.execute(
            sa.select(thresholds).where(thresholds.c.webhook_secret.is_not(None))
        ):
            if keyring.key_id_of(row.webhook_secret) == active:
                continue
            context = f"credits.webhook:{row.tenant}/{row.account_id}"
            sealed = keyring.encrypt(keyring.decrypt(row.webhook_secret, context), context)
            conn.execute(
                thresholds.update()
                .where(thresholds.c.tenant == row.tenant, thresholds.c.account_id == row.account_id)
                .values(webhook_secret=sealed)
            )
            counts["secrets"] += 1
        log = command_log.c
        query = sa.select(log.tenant, log.idempotency_key, log.response).where(
            ~log.response.startswith("{")
        )
        for row in conn.execute(query).all():
            if keyring.key_id_of(row.response) == active:
                continue
            context = f"credits.command_log:{row.tenant}"
            sealed = keyring.encrypt(keyring.decrypt(row.response, context), context)
            conn.execute(
                command_log.update()
                .where(log.tenant == row.tenant, log.idempotency_key == row.idempotency_key)
                .values(response=sealed)
            )
            counts["answers"] += 1
    return counts
