"""Typed spellings of strawberry's resolver decorators.

``strawberry.field(description=...)`` without a resolver is typed ``Any`` (it doubles as a
dataclass default), which ``mypy --strict`` rejects as an untyped decorator. These wrappers
keep the decorated function's type for mypy and change nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

F = TypeVar("F", bound=Callable[..., Any])


def field(*, description: str) -> Callable[[F], F]:
    """``@strawberry.field(description=...)``."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def mutation(*, description: str) -> Callable[[F], F]:
    """``@strawberry.mutation(description=...)``."""
    return cast(Callable[[F], F], strawberry.mutation(description=description))


def subscription(*, description: str) -> Callable[[F], F]:
    """``@strawberry.subscription(description=...)``."""
    return cast(Callable[[F], F], strawberry.subscription(description=description))
