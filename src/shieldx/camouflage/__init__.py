"""ShieldX camouflage."""
