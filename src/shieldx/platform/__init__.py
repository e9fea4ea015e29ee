"""ShieldX platform."""
