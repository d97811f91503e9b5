"""What a structured generation comes to (seed 003 ADR-0001, ADR-0004): a closed sum, never None.
Callers match on it; `assert_never` in the last arm makes mypy prove every case is handled.

    Ok(value)                  the output validated
    Refused(reason)            the model (or a tier) declined, on purpose
    Invalid(errors, attempts)  it never validated within the attempts
    BudgetExhausted(needed)    the workflow's budget token could not pay for the next call
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Invalid:
    errors: tuple[str, ...]
    attempts: int


@dataclass(frozen=True, slots=True)
class BudgetExhausted:
    needed: int
    remaining: int


Outcome = Ok[T] | Refused | Invalid | BudgetExhausted
