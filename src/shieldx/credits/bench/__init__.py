"""ShieldX credits: bench."""
