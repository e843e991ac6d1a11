"""Every Redis key SMLT uses, made in one place.

A job's keys all start with ``smlt:<job>:``, so one ``SCAN`` pattern lists (or deletes) a job.
Rounds are part of the key: a worker re-run for round ``r`` overwrites exactly its own keys of
round ``r`` and nothing else, which is what makes a re-run idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    """Key names of one job.

    Args:
        job: the job id (letters, digits, ``-`` and ``_``).
    """

    job: str

    def __post_init__(self) -> None:
        from ..exceptions import InvalidConfigError

        if not self.job or not all(c.isalnum() or c in "-_" for c in self.job):
            raise InvalidConfigError(
                f"job id must be non-empty letters, digits, '-' or '_', got {self.job!r}")

    @property
    def prefix(self) -> str:
        return f"smlt:{self.job}:"

    def params(self, round_: int, shard: int) -> str:
        """Shard ``shard`` of the model parameters at the start of round ``round_``."""
        return f"{self.prefix}params:{round_}:{shard}"

    def momentum(self, round_: int, shard: int) -> str:
        """The optimizer's momentum buffer for ``shard`` at the start of ``round_``."""
        return f"{self.prefix}mom:{round_}:{shard}"

    def update(self, round_: int, worker: int, shard: int) -> str:
        """Worker ``worker``'s update for ``shard`` in round ``round_`` (a whole update is
        shard 0 of a one-shard split)."""
        return f"{self.prefix}upd:{round_}:{worker}:{shard}"

    def weight(self, round_: int, worker: int) -> str:
        """The sample weight of a worker's update (float64 scalar)."""
        return f"{self.prefix}w:{round_}:{worker}"

    def reduced(self, round_: int, shard: int) -> str:
        """The exact mean of shard ``shard`` over all workers of round ``round_``."""
        return f"{self.prefix}red:{round_}:{shard}"

    def data(self, worker: int, part: str) -> str:
        """Worker ``worker``'s data shard: ``part`` is ``"x"`` or ``"y"``."""
        return f"{self.prefix}data:{worker}:{part}"

    def eval_data(self, part: str) -> str:
        return f"{self.prefix}eval:{part}"

    def partial(self, round_: int, worker: int) -> str:
        """A worker's checkpoint taken before its function time limit (partial gradient)."""
        return f"{self.prefix}partial:{round_}:{worker}"

    def result(self, round_: int, worker: int) -> str:
        """A worker's completion record (JSON) for round ``round_``."""
        return f"{self.prefix}done:{round_}:{worker}"

    @property
    def meta(self) -> str:
        """The job's metadata hash (config, committed round = last checkpoint)."""
        return f"{self.prefix}meta"

    def pattern(self) -> str:
        return f"{self.prefix}*"

    def round_patterns(self, round_: int) -> list[str]:
        """Patterns of every key of round ``round_`` (data and metadata excluded)."""
        return [f"{self.prefix}{kind}:{round_}:*"
                for kind in ("params", "mom", "upd", "w", "red", "partial", "done")]
