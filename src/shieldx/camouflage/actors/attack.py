"""MITRE ATT&CK: observed decoy behaviour mapped to technique ids (a table; pure).

Each row of ``technique_rules`` says when a session shows a technique and why; an actor shows
the techniques any of its sessions shows. docs/camouflage.md prints the table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from shieldx.camouflage.actors.domain import SessionFacts


@dataclass(frozen=True)
class Technique:
    """A MITRE ATT&CK technique an actor's behaviour maps to."""

    id: str
    name: str
    tactic: str
    reason: str
    sessions: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "id": self.id,
            "name": self.name,
            "tactic": self.tactic,
            "reason": self.reason,
            "sessions": list(self.sessions),
        }


#: technique id -> (name, tactic)
TECHNIQUES: Final[Mapping[str, tuple[str, str]]] = {
    "T1595": ("Active Scanning", "reconnaissance"),
    "T1595.001": ("Active Scanning: Scanning IP Blocks", "reconnaissance"),
    "T1595.002": ("Active Scanning: Vulnerability Scanning", "reconnaissance"),
    "T1595.003": ("Active Scanning: Wordlist Scanning", "reconnaissance"),
    "T1592.002": ("Gather Victim Host Information: Software", "reconnaissance"),
    "T1083": ("File and Directory Discovery", "discovery"),
    "T1552.001": ("Unsecured Credentials: Credentials In Files", "credential-access"),
    "T1078": ("Valid Accounts", "initial-access"),
    "T1190": ("Exploit Public-Facing Application", "initial-access"),
    "T1059.004": ("Command and Scripting Interpreter: Unix Shell", "execution"),
}

_VULN_TOOLS = frozenset({"nikto", "nuclei", "sqlmap"})
_EXPLOITS = frozenset({"exploit", "command_injection", "sql_injection", "path_traversal"})
_VULN_PROBES = _EXPLOITS | {"xss_probe"}

SessionRule: TypeAlias = "Callable[[SessionFacts], bool]"
#: (technique id, when a session shows it, why — as printed in the evidence)
technique_rules: Final[tuple[tuple[str, SessionRule, str], ...]] = (
    ("T1595", lambda s: s.requests > 0, "requests to a decoy, which serves no one"),
    ("T1595.001", lambda s: s.scanner in ("masscan", "zgrab"), "an Internet-wide scanner"),
    (
        "T1595.002",
        lambda s: s.scanner in _VULN_TOOLS or bool(_VULN_PROBES & set(s.attack_types)),
        "a vulnerability scanner or probes for known vulnerabilities",
    ),
    (
        "T1595.003",
        lambda s: (
            s.scanner == "dirbuster" or bool({"secrets_probe", "admin_probe"} & set(s.attack_types))
        ),
        "content discovery: guessed paths from a wordlist",
    ),
    ("T1592.002", lambda s: s.scanner == "nmap", "service and version detection (nmap)"),
    ("T1083", lambda s: s.maze_depth > 0, "browsed the decoy's directory listings"),
    ("T1552.001", lambda s: s.honeytokens_taken > 0, "fetched a bait file holding credentials"),
    ("T1078", lambda s: s.honeytokens_used > 0, "used a credential taken from a decoy"),
    ("T1190", lambda s: bool(_EXPLOITS & set(s.attack_types)), "sent exploit payloads"),
    (
        "T1059.004",
        lambda s: "command_injection" in s.attack_types,
        "tried to run shell commands through the application",
    ),
)


def techniques_of(
    group: Sequence[SessionFacts], used: Collection[str] = ()
) -> tuple[Technique, ...]:
    """The ATT&CK techniques the sessions of one actor showed, in table order.

    USED holds the ids of sessions whose honeytokens were presented somewhere (a stored
    session's own count may predate the use).
    """
    found: list[Technique] = []
    for technique_id, rule, reason in technique_rules:
        ids = tuple(s.id for s in group if rule(s) or (technique_id == "T1078" and s.id in used))
        if ids:
            name, tactic = TECHNIQUES[technique_id]
            found.append(Technique(technique_id, name, tactic, reason, ids))
    return tuple(found)
