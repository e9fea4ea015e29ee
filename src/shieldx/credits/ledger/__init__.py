"""ShieldX credits: ledger."""
