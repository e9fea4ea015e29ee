"""The maze: an endless deterministic site behind each decoy, its pages and bait files."""
