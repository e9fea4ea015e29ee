"""ShieldX credits: audit."""
