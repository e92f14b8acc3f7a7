"""Opaque global IDs: base64 of ``<TypeName>:<uuid>`` (Relay's object identification).

Clients must treat them as opaque strings; the type name inside lets ``node(id:)`` find any
object and lets every argument reject an ID of the wrong type with a clear error.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.relay import GlobalID, GlobalIDValueError

from app.api.errors import MalformedIdError, WrongIdTypeError


def to_global_id(type_name: str, row_id: uuid.UUID) -> str:
    """The opaque ID of the ``type_name`` object ``row_id``."""
    return str(GlobalID(type_name=type_name, node_id=str(row_id)))


def parse_global_id(value: str, *, field: Sequence[str]) -> tuple[str, uuid.UUID]:
    """The type name and row id inside ``value``; MalformedIdError if it is not ours."""
    try:
        gid = GlobalID.from_id(value)
        return gid.type_name, uuid.UUID(gid.node_id)
    except (GlobalIDValueError, ValueError) as exc:
        raise MalformedIdError(f"{value!r} is not a valid ID", field=list(field)) from exc


def decode_id(value: str, expected: str | tuple[str, ...], *, field: Sequence[str]) -> uuid.UUID:
    """The row id inside ``value``, which must name one of the ``expected`` types."""
    type_name, row_id = parse_global_id(value, field=field)
    wanted = (expected,) if isinstance(expected, str) else expected
    if type_name not in wanted:
        raise WrongIdTypeError(
            f"expected an ID of {' or '.join(wanted)}, got an ID of {type_name}", field=list(field)
        )
    return row_id
