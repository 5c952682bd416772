"""What a rule is: a small named unit that declares the state types it concerns and hooks
into a transition before it is decided, after it stands, or when it fizzled.

A rule is entered (its `before` runs) when the run's current type is in FROM and the proposed
type is in TO, and no earlier rule has changed that proposed type. Once the policy is done:
- `after` runs if the transition stands as the rule saw it (same type, not nullified);
- `cleanup` runs otherwise ("fizzled"): a later rule swapped the state or nullified the
  transition, so whatever `before` changed must be put back.
A rule that itself hands back a replacement state expects that state to stand.
UNIVERSAL rules concern every transition and run `after` on anything that is not nullified.

Rules are stateless singletons; what one must remember between its hooks goes in
`transition.memo`, keyed by the rule's name. A rule that looks beyond the run names what it
needs in NEEDS, so the application layer gathers it before the decision (the core does no I/O).
"""

from __future__ import annotations

from ..models import TERMINAL_TYPES, StateType
from ..transition import Transition

ALL_TYPES: frozenset[StateType | None] = frozenset([None, *StateType])
ALL_STATE_TYPES: frozenset[StateType | None] = frozenset(StateType)
TERMINAL: frozenset[StateType | None] = frozenset(TERMINAL_TYPES)


class Rule:
    FROM: frozenset[StateType | None] = ALL_TYPES
    TO: frozenset[StateType | None] = ALL_STATE_TYPES
    UNIVERSAL = False
    NEEDS: frozenset[str] = frozenset()  # inputs.NEEDS_* this rule reads

    @property
    def name(self) -> str:
        return type(self).__name__

    def concerns(self, from_type: StateType | None, to_type: StateType) -> bool:
        return self.UNIVERSAL or (from_type in self.FROM and to_type in self.TO)

    def before(self, t: Transition) -> None:
        pass

    def after(self, t: Transition) -> None:
        pass

    def cleanup(self, t: Transition) -> None:
        pass

    def __repr__(self) -> str:
        return self.name
