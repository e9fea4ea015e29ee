"""ShieldX: a self-hostable security platform back end."""

__version__ = "0.1.0"
