"""Attacker sessions: requests grouped per attacker and decoy, live and stored."""
