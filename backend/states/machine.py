"""A state machine as data: named events, each moving from a set of sources to one target.

Pure: no database, no web framework. The table is what both the decisions (may this happen?) and
the guarded updates in the database (transitions.py) are built from, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Move(Generic[S]):
    event: str
    sources: frozenset[S]
    target: S


class IllegalMove(Exception):
    """An event asked of a state it does not leave from: a bug in the caller, not a refusal."""


class Machine(Generic[S]):
    def __init__(self, name: str, states: type[S], moves: Iterable[Move[S]]) -> None:
        self.name = name
        self.states = states
        self._moves = {move.event: move for move in moves}

    def __getitem__(self, event: str) -> Move[S]:
        try:
            return self._moves[event]
        except KeyError:
            raise IllegalMove(f"{self.name} has no event {event!r}") from None

    @property
    def moves(self) -> tuple[Move[S], ...]:
        return tuple(self._moves.values())

    def can(self, source: S, target: S) -> bool:
        """Whether some event moves `source` to `target`."""
        return any(source in m.sources and m.target == target for m in self._moves.values())

    def after(self, source: S, event: str) -> S:
        """Where `event` takes `source` (IllegalMove when it does not leave from there)."""
        move = self[event]
        if source not in move.sources:
            raise IllegalMove(f"{self.name}: {event} does not leave {source.value}")
        return move.target


def move(event: str, sources: S | Iterable[S], target: S) -> Move[S]:
    if isinstance(sources, StrEnum):
        sources = (sources,)
    return Move(event, frozenset(sources), target)
