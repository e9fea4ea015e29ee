"""Attacker attribution: sessions grouped into actors, ATT&CK techniques, STIX 2.1 export."""
