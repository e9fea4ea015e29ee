"""ShieldX credits: projections."""
