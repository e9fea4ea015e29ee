"""ShieldX locator."""
