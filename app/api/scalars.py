"""Custom scalars and shared argument annotations."""

from __future__ import annotations

from typing import Annotated, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

# GraphQL's Int is 32-bit; file sizes pass 2 GiB. Registered on the schema through
# ``SCALARS`` (a plain NewType keeps mypy able to use it as a type).
BigInt = NewType("BigInt", int)

SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="An integer that may exceed 32 bits, serialised as a JSON number.",
        serialize=int,
        parse_value=int,
    )
}

First = Annotated[
    int,
    strawberry.argument(description="How many rows to return: 0 up to the page-size cap (100 by default)."),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return rows after this cursor (the `endCursor` of the previous page)."),
]
