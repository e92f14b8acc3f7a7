"""Root fields of people: the ``people`` list and the editors' corrections (each audited)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.errors import (
    ForbiddenErrorType,
    InvalidInputErrorType,
    MalformedIdErrorType,
    NotFoundErrorType,
    WrongIdTypeErrorType,
    user_error,
)
from app.api.fields import field, mutation
from app.api.ids import decode_id
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.people.types import FACE_TYPE, PERSON_TYPE, PersonType
from app.api.scalars import After, First
from app.core.db import session_scope
from app.core.errors import DomainError, InvalidInputError
from app.people import repository as people_repository
from app.people import service as people

_ERRORS = (MalformedIdErrorType, WrongIdTypeErrorType, NotFoundErrorType, InvalidInputErrorType)


@strawberry.input(name="PeopleFilter", description="Which people to list.")
class PeopleFilterInput:
    """Filters of ``people``."""

    name_contains: str | None = strawberry.field(default=None, description="Name contains this (any case).")
    hidden: bool | None = strawberry.field(
        default=False,
        description="Hidden people only (true), visible only (false, the default), or both (null).",
    )


@strawberry.type(name="PersonSuccess", description="The person as it is after the change.")
class PersonSuccess:
    """Result of a successful person mutation."""

    person: PersonType = strawberry.field(description="The person changed (or created by moveFaces).")


PersonResult = Annotated[
    PersonSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidInputErrorType
    | ForbiddenErrorType,
    strawberry.union("PersonResult", description="The person, or why the change was not made."),
]


@strawberry.type
class PeopleQueries:
    """Root query fields of people."""

    @field(description="The tenant's people (with an appearance on a live asset, or a name), oldest first.")
    async def people(
        self,
        info: Info,
        filter: Annotated[PeopleFilterInput | None, strawberry.argument(description="Which people.")] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[PersonType]:
        page = page_of(info, people_repository.PEOPLE_ORDER, first, after, field=[])
        where = filter or PeopleFilterInput()
        async with info.context.read_session_factory() as session:
            rows = await people_repository.list_people(
                session,
                tenant_id=info.context.caller.tenant_id,
                where=people_repository.PeopleFilter(name=where.name_contains, hidden=where.hidden),
                page=page,
            )
        return connection(rows, people_repository.PEOPLE_ORDER, PersonType.from_row)


@strawberry.type
class PeopleMutations:
    """Root mutations of people. Every correction is an editor's decision that no later
    clustering, re-cluster or reprocess undoes."""

    @mutation(description="Name a person (null or blank removes the name). Names are searchable.")
    async def rename_person(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The person (Person ID).")],
        name: Annotated[str | None, strawberry.argument(description="The new name.")],
    ) -> PersonResult:
        ctx = info.context
        try:
            person_id = decode_id(id, PERSON_TYPE, field=["id"])
            if name is not None and len(name) > 200:
                raise InvalidInputError("a name has at most 200 characters", field=["name"])
            async with session_scope(ctx.session_factory) as session:
                row = await people.rename_person(
                    session,
                    enqueuer=ctx.services.enqueuer,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    person_id=person_id,
                    name=name,
                )
        except DomainError as exc:
            error: PersonResult = user_error(exc, allowed=_ERRORS)
            return error
        return PersonSuccess(person=PersonType.from_row(row))

    @mutation(description="Hide a person from lists and assets (or show it again).")
    async def hide_person(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The person (Person ID).")],
        hidden: Annotated[bool, strawberry.argument(description="Hide (true) or show (false).")] = True,
    ) -> PersonResult:
        ctx = info.context
        try:
            person_id = decode_id(id, PERSON_TYPE, field=["id"])
            async with session_scope(ctx.session_factory) as session:
                row = await people.hide_person(
                    session,
                    enqueuer=ctx.services.enqueuer,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    person_id=person_id,
                    hidden=hidden,
                )
        except DomainError as exc:
            error: PersonResult = user_error(exc, allowed=_ERRORS)
            return error
        return PersonSuccess(person=PersonType.from_row(row))

    @mutation(
        description="Merge people into one: their appearances move to `into` (kept there for good) and "
        "their IDs lead to it from now on."
    )
    async def merge_people(
        self,
        info: Info,
        into: Annotated[strawberry.ID, strawberry.argument(description="The person kept (Person ID).")],
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The people merged into it (<= 50).")
        ],
    ) -> PersonResult:
        ctx = info.context
        try:
            target = decode_id(into, PERSON_TYPE, field=["into"])
            if not ids or len(ids) > 50:
                raise InvalidInputError("merge 1 to 50 people at once", field=["ids"])
            sources = [decode_id(i, PERSON_TYPE, field=["ids", str(n)]) for n, i in enumerate(ids)]
            async with session_scope(ctx.session_factory) as session:
                row = await people.merge_people(
                    session,
                    enqueuer=ctx.services.enqueuer,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    target_id=target,
                    source_ids=sources,
                )
        except DomainError as exc:
            error: PersonResult = user_error(exc, allowed=_ERRORS)
            return error
        return PersonSuccess(person=PersonType.from_row(row))

    @mutation(
        description="Move appearances (Face IDs, from Person.appearances) to another person, or to a new "
        "one when `to` is null; they stay there for good."
    )
    async def move_faces(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="The appearances (<= 200).")],
        to: Annotated[
            strawberry.ID | None, strawberry.argument(description="The person (Person ID); null: a new one.")
        ] = None,
    ) -> PersonResult:
        ctx = info.context
        try:
            if not ids or len(ids) > 200:
                raise InvalidInputError("move 1 to 200 faces at once", field=["ids"])
            tracks = [decode_id(i, FACE_TYPE, field=["ids", str(n)]) for n, i in enumerate(ids)]
            target = decode_id(to, PERSON_TYPE, field=["to"]) if to is not None else None
            async with session_scope(ctx.session_factory) as session:
                row = await people.move_tracks(
                    session,
                    enqueuer=ctx.services.enqueuer,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    track_ids=tracks,
                    person_id=target,
                )
        except DomainError as exc:
            error: PersonResult = user_error(exc, allowed=_ERRORS)
            return error
        return PersonSuccess(person=PersonType.from_row(row))
