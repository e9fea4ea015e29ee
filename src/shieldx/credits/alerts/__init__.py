"""ShieldX credits: alerts."""
