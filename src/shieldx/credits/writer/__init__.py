"""ShieldX credits: writer."""
