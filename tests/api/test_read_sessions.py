"""The loaders of one HTTP query read in one session (one pooled connection, one read
transaction, so one snapshot); mutations and subscriptions keep a session per batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select

from app.assets.models import Asset
from app.core.container import Services
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient
from tests.api.graph import gid
from tests.api.test_nplus1 import _insert

ASSET_PAGE = """
query ($id: ID!) {
  asset(id: $id) {
    title
    scenes(first: 5) {
      edges { node {
        ordinal
        transcript(first: 5) { edges { node { text } } }
        detections(first: 5) { edges { node { label confidence } } }
      } }
    }
  }
}
"""


@dataclass
class PoolUse:
    """Connections taken from and given back to the read pool."""

    taken: list[Any] = field(default_factory=list)
    returned: list[Any] = field(default_factory=list)


@contextmanager
def pool_use(services: Services) -> Iterator[PoolUse]:
    """What the read pool lent and got back while the block runs."""
    engine = services.read_engine or services.engine
    use = PoolUse()

    def taken(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        use.taken.append(dbapi_connection)

    def returned(dbapi_connection: Any, _record: Any) -> None:
        use.returned.append(dbapi_connection)

    event.listen(engine.sync_engine, "checkout", taken)
    event.listen(engine.sync_engine, "checkin", returned)
    try:
        yield use
    finally:
        event.remove(engine.sync_engine, "checkout", taken)
        event.remove(engine.sync_engine, "checkin", returned)


async def test_an_asset_page_query_reads_through_one_connection(
    gql: GraphQLClient, services: Services, tenant: Tenant
) -> None:
    await _insert(services, tenant.id, 2)
    async with services.read_session_factory() as session:
        asset_id = (await session.scalars(select(Asset.id).order_by(Asset.title).limit(1))).one()
    await gql("{ __typename }")  # resolves the caller once per process, outside the count
    with pool_use(services) as use:
        body = await gql(ASSET_PAGE, {"id": gid("Asset", asset_id)})
    assert "errors" not in body, body
    scenes = body["data"]["asset"]["scenes"]["edges"]
    assert [s["node"]["ordinal"] for s in scenes] == [0, 1, 2]
    assert [len(s["node"]["detections"]["edges"]) for s in scenes] == [2, 2, 2]
    # Four loader batches (asset, scenes, transcripts, detections): one connection, not four.
    assert len(use.taken) == 1


async def test_each_query_of_a_client_gets_its_session_back_to_the_pool(
    gql: GraphQLClient, services: Services, tenant: Tenant
) -> None:
    await _insert(services, tenant.id, 1)
    async with services.read_session_factory() as session:
        asset_id = (await session.scalars(select(Asset.id))).one()
    await gql("{ __typename }")
    with pool_use(services) as use:
        for _ in range(3):
            body = await gql(ASSET_PAGE, {"id": gid("Asset", asset_id)})
            assert "errors" not in body, body
    # Every shared session was closed when its query ended: what was lent came back.
    assert len(use.taken) == 3
    assert sorted(map(id, use.returned)) == sorted(map(id, use.taken))
