"""The contract: the committed SDL matches the code, everything is described, and every
operation document is valid against the schema."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.api.export import check_schema, export_schema_to
from app.api.schema import schema
from app.core.container import Services
from app.tenancy.models import Tenant
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    parse,
    validate,
)
from tests.api.conftest import OPERATIONS
from tests.api.graph import KEYFRAME_BYTES, build_graph

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    diff = check_schema(SCHEMA_FILE)
    assert diff == [], "graphql/schema.graphql is stale: run `make schema`\n" + "".join(diff)


def test_check_reports_drift_as_a_diff(tmp_path: Path) -> None:
    path = tmp_path / "schema.graphql"
    export_schema_to(path)
    assert check_schema(path) == []
    path.write_text(path.read_text().replace("  title: String!\n", "  name: String!\n", 1))
    diff = check_schema(path)
    assert "-  name: String!\n" in diff
    assert "+  title: String!\n" in diff


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gql_type, GraphQLEnumType):
            if not gql_type.values:
                missing.append(name)
            missing += [
                f"{name}.{value_name}"
                for value_name, value in gql_type.values.items()
                if not value.description
            ]
    assert missing == []


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_operation_documents_are_valid(path: Path) -> None:
    document = parse(path.read_text())
    assert [e.message for e in validate(schema._schema, document)] == []


def test_no_python_under_graphql() -> None:
    # A .py file there would shadow graphql-core for every importer.
    assert list(SCHEMA_FILE.parent.rglob("*.py")) == []


async def test_keyframes_are_served_to_their_tenant_only(
    http: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    graph = await build_graph(services.session_factory, tenant.id, services.blobs)
    ok = await http.get(f"/blobs/{graph.keyframe_key}")
    assert (ok.status_code, ok.content, ok.headers["content-type"]) == (200, KEYFRAME_BYTES, "image/jpeg")
    assert ok.headers["cache-control"] == "private, max-age=31536000, immutable"
    # A stored blob that is no keyframe of the caller (the asset bytes, say) is not served.
    other = services.blobs.put_bytes(b"an original upload")
    assert (await http.get(f"/blobs/{other.key}")).status_code == 404
    assert (await http.get("/blobs/sha256/../../etc/passwd")).status_code == 404
