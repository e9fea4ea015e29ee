"""ShieldX credits."""
