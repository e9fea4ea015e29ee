"""Adaptive decoy selection: sticky Thompson sampling, rewarded by sessions and feedback.

``select`` gives an attacker (a source address) a decoy and a session id: the same decoy every
time (sticky, remembered in memory and in ``camouflage_assignments``), chosen the first time
by Thompson sampling. When that attacker's first session on the decoy opens, it takes the
session id (``claim``). Each session contributes one reward to its decoy's arm: 1 if it was
engaged when it closed (``session_closed``), or the value of ``POST /feedback``, which
replaces the automatic one. Arm state is written through the batch writer and read at start.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from shieldx.camouflage.metrics import CamouflageMetrics
from shieldx.camouflage.recon.sinks import BatchWriter
from shieldx.camouflage.selection.domain import ThompsonSelector
from shieldx.camouflage.sessions.tracker import LiveSession, new_session_id
from shieldx.camouflage.store import CamouflageStore


@dataclass
class Assignment:
    """An attacker's sticky decoy and the session id its next session will take."""

    decoy: str
    session_id: str
    claimed: bool = False


@dataclass(frozen=True)
class Choice:
    """The answer to POST /select."""

    decoy: str
    template: str
    session_id: str
    reason: str


class UnknownSession(LookupError):
    """Feedback names a session this service has never seen."""


class DecoySelector:
    """Chooses decoys per attacker and keeps the bandit's evidence."""

    def __init__(
        self,
        *,
        bandit: ThompsonSelector,
        templates: Mapping[str, str],
        store: CamouflageStore,
        writer: BatchWriter,
        metrics: CamouflageMetrics,
        monte_carlo_samples: int,
        monte_carlo_seed: int,
        cache_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bandit = bandit
        self.templates = dict(templates)
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self.samples = monte_carlo_samples
        self.seed = monte_carlo_seed
        self.cache_size = cache_size
        self.clock = clock
        self._assignments: OrderedDict[str, Assignment] = OrderedDict()
        # session id -> (decoy, reward, source) for recent rewards (feedback replaces them).
        self._rewards: OrderedDict[str, tuple[str, float, str]] = OrderedDict()

    async def load(self) -> None:
        """Read the stored arm evidence."""
        self.bandit.load(await anyio.to_thread.run_sync(self.store.arms))

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)

    async def _assignment(self, source_ip: str) -> Assignment | None:
        found = self._assignments.get(source_ip)
        if found is not None:
            return found
        row = await anyio.to_thread.run_sync(self.store.assignment, source_ip)
        if row is None or row["decoy"] not in self.bandit.arms:
            return None
        used = await anyio.to_thread.run_sync(self.store.session_ids_exist, [row["session_id"]])
        found = Assignment(row["decoy"], row["session_id"], claimed=bool(used))
        self._remember(self._assignments, source_ip, found)
        return found

    async def select(self, source_ip: str) -> Choice:
        """The decoy for SOURCE_IP: its sticky one, or a Thompson draw the first time."""
        current = await self._assignment(source_ip)
        if current is not None:
            if current.claimed:
                current.session_id = new_session_id()
                current.claimed = False
                self._store_assignment(source_ip, current)
            self._remember(self._assignments, source_ip, current)
            return Choice(
                current.decoy,
                self.templates[current.decoy],
                current.session_id,
                f"sticky: {source_ip} was assigned {current.decoy} before",
            )
        drawn = self.bandit.select()
        chosen = Assignment(drawn.decoy, new_session_id())
        self._remember(self._assignments, source_ip, chosen)
        self._store_assignment(source_ip, chosen)
        self._store_arm(drawn.decoy)
        self.metrics.bandit_selections.labels(decoy=drawn.decoy).inc()
        others = ", ".join(f"{n} {v:.3f}" for n, v in drawn.draws.items() if n != drawn.decoy)
        reason = (
            f"thompson: posterior draw {drawn.draws[drawn.decoy]:.3f} for {drawn.decoy} "
            f"was the highest (others: {others or 'none'})"
        )
        return Choice(drawn.decoy, self.templates[drawn.decoy], chosen.session_id, reason)

    def claim(self, source_ip: str, decoy: str) -> str | None:
        """The session id waiting for SOURCE_IP's first session on DECOY (taken once)."""
        found = self._assignments.get(source_ip)
        if found is None or found.claimed or found.decoy != decoy:
            return None
        found.claimed = True
        return found.session_id

    def _store_assignment(self, source_ip: str, assignment: Assignment) -> None:
        row = {
            "source_ip": source_ip,
            "decoy": assignment.decoy,
            "session_id": assignment.session_id,
            "created_at": self.clock(),
        }
        self.writer.submit("assignments", (source_ip, row))

    def _store_arm(self, decoy: str) -> None:
        self.writer.submit("arms", (decoy, self.bandit.row(decoy, now=self.clock())))

    def _reward(self, session_id: str, decoy: str, reward: float, source: str) -> None:
        self.bandit.observe(decoy, reward)
        self._remember(self._rewards, session_id, (decoy, reward, source))
        row = {
            "session_id": session_id,
            "decoy": decoy,
            "reward": reward,
            "source": source,
            "at": self.clock(),
        }
        self.writer.submit("rewards", (session_id, row))
        self._store_arm(decoy)

    def session_closed(self, session: LiveSession, engaged: bool) -> float | None:
        """Reward the session's decoy (unless feedback already did); returns the reward."""
        if session.decoy not in self.bandit.arms or session.requests == 0:
            return None
        earlier = self._rewards.get(session.id)
        if earlier is not None:
            return earlier[1]
        reward = 1.0 if engaged else 0.0
        self._reward(session.id, session.decoy, reward, "session")
        return reward

    async def feedback(
        self, session_id: str, reward: float, *, live_decoy: str | None
    ) -> dict[str, Any]:
        """Set a session's reward, replacing an earlier one; raises UnknownSession."""
        earlier = self._rewards.get(session_id)
        if earlier is None:
            row = await anyio.to_thread.run_sync(self.store.reward, session_id)
            if row is not None:
                earlier = (row["decoy"], row["reward"], row["source"])
        decoy = earlier[0] if earlier is not None else live_decoy
        if decoy is None:
            decoy = await self._decoy_of(session_id)
        if decoy is None or decoy not in self.bandit.arms:
            raise UnknownSession(session_id)
        if earlier is not None:
            self.bandit.retract(earlier[0], earlier[1])
        self._reward(session_id, decoy, reward, "feedback")
        return {
            "session_id": session_id,
            "decoy": decoy,
            "reward": reward,
            "replaced": None if earlier is None else earlier[1],
        }

    async def _decoy_of(self, session_id: str) -> str | None:
        for assignment in self._assignments.values():
            if assignment.session_id == session_id:
                return assignment.decoy
        row = await anyio.to_thread.run_sync(self.store.session, session_id)
        return None if row is None else str(row["decoy"])

    def graph(self) -> list[dict[str, Any]]:
        """Per decoy: pulls, successes, mean reward, posterior and P(best)."""
        best = self.bandit.probability_best(samples=self.samples, seed=self.seed)
        out = []
        for name, arm in self.bandit.arms.items():
            alpha, beta = self.bandit.posterior(name)
            out.append(
                {
                    "decoy": name,
                    "template": self.templates[name],
                    "pulls": arm.pulls,
                    "successes": round(arm.successes, 6),
                    "mean_reward": round(arm.mean_reward, 6),
                    "selections": arm.selections,
                    "posterior": {
                        "distribution": "beta",
                        "alpha": alpha,
                        "beta": beta,
                        "mean": alpha / (alpha + beta),
                    },
                    "probability_best": best[name],
                }
            )
        return out
