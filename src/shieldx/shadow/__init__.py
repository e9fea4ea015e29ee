"""ShieldX shadow."""
