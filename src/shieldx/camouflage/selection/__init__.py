"""Adaptive decoy selection: a Thompson-sampling bandit, sticky per attacker."""
