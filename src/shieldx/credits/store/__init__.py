"""ShieldX credits: store."""
