"""docs/api.md quotes the contract, never a paraphrase of it: every GraphQL operation it shows is
a document of graphql/operations/ (same AST once parsed and printed), every SDL excerpt matches
the schema, and every curl example posts an operation document with a valid upload map."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.schema import schema
from app.core.container import Services
from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLScalarType,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    OperationDefinitionNode,
    TypeDefinitionNode,
    get_named_type,
    parse,
    print_ast,
    type_from_ast,
)
from tests.api.conftest import OPERATIONS
from tests.jobs.media import make_video

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(language: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(API_DOC.read_text(encoding="utf-8")) if m.group(1) == language]


def _label(block: str) -> str:
    return block.strip().splitlines()[0][:60]


def _operations() -> dict[str, str]:
    """Normalised document (parsed and printed: no comments, canonical layout) -> file name."""
    return {
        print_ast(parse(path.read_text(encoding="utf-8"))): path.name for path in OPERATIONS.glob("*.graphql")
    }


GRAPHQL_BLOCKS = _blocks("graphql")
BASH_BLOCKS = [block for block in _blocks("bash") if "/graphql" in block]


def test_the_guide_has_examples() -> None:
    # The extraction itself must find something, or every test below passes vacuously.
    assert len(GRAPHQL_BLOCKS) >= 4
    assert len(BASH_BLOCKS) >= 2


@pytest.mark.parametrize("block", GRAPHQL_BLOCKS, ids=_label)
def test_graphql_examples_are_operation_documents_or_schema_excerpts(block: str) -> None:
    document = parse(block)
    if all(isinstance(d, ExecutableDefinitionNode) for d in document.definitions):
        assert print_ast(document) in _operations(), (
            "this example is not (the normalised form of) any graphql/operations/ document:\n" + block
        )
        return
    for definition in document.definitions:
        assert isinstance(definition, TypeDefinitionNode), definition
        assert _fields(definition) == _schema_fields(definition.name.value)


def _fields(definition: TypeDefinitionNode) -> dict[str, str]:
    assert isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode), definition
    return {f.name.value: print_ast(f.type) for f in definition.fields or ()}


def _schema_fields(type_name: str) -> dict[str, str]:
    sdl = parse((ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8"))
    for definition in sdl.definitions:
        if isinstance(definition, TypeDefinitionNode) and definition.name.value == type_name:
            return _fields(definition)
    raise AssertionError(f"{type_name} is not in graphql/schema.graphql")


class CurlExample:
    """What one documented ``curl -F`` multipart upload sends (read with patterns, not a shell
    parser: the JSON sits in single quotes inside a double-quoted command substitution)."""

    def __init__(self, block: str) -> None:
        document = re.search(r"--rawfile query (\S+\.graphql)", block)
        assert document, f"the example does not post a document of graphql/operations/:\n{block}"
        self.document_path = ROOT / document.group(1)
        variables = re.search(r"--argjson variables '([^']*)'", block)
        assert variables, f"the example does not pass its variables as JSON:\n{block}"
        self.variables: dict[str, Any] = json.loads(variables.group(1))
        upload_map = re.search(r"-F map='([^']*)'", block)
        assert upload_map, f"the example has no upload map:\n{block}"
        self.map: dict[str, list[str]] = json.loads(upload_map.group(1))
        self.files = dict(re.findall(r"-F (\w+)=@(\S+)", block))

    @property
    def document(self) -> DocumentNode:
        return parse(self.document_path.read_text(encoding="utf-8"))

    def operations(self) -> str:
        """The ``operations`` field as jq builds it."""
        return json.dumps(
            {"query": self.document_path.read_text(encoding="utf-8"), "variables": self.variables}
        )


@pytest.mark.parametrize("block", BASH_BLOCKS, ids=_label)
def test_curl_examples_post_operation_documents_with_a_valid_upload_map(block: str) -> None:
    example = CurlExample(block)
    # What the API requires of every multipart request: a key, and the CSRF header.
    assert '-H "Authorization: Bearer $(cat var/admin-api-key)"' in block
    assert "-H 'x-mediakg-csrf: 1'" in block
    assert example.document_path.parent == OPERATIONS
    assert example.document_path.is_file()
    (definition,) = example.document.definitions
    assert isinstance(definition, OperationDefinitionNode)
    declared = {v.variable.name.value: v.type for v in definition.variable_definitions or ()}
    assert set(example.map) == set(example.files)
    for paths in example.map.values():
        for path in paths:
            head, name, *rest = path.split(".")
            assert head == "variables"
            # Declared by the document, an Upload at the end of the path, and null in the variables.
            graphql_type = type_from_ast(schema._schema, declared[name])
            assert graphql_type is not None
            value: Any = example.variables
            for key in [name, *rest]:
                value = value[key]
            assert value is None
            assert _type_at(graphql_type, rest).name == "Upload", path


def _type_at(graphql_type: Any, path: list[str]) -> GraphQLScalarType:
    named = get_named_type(graphql_type)
    for key in path:
        assert isinstance(named, GraphQLInputObjectType), (named, key)
        field_type: GraphQLInputType = named.fields[key].type
        named = get_named_type(field_type)
    assert isinstance(named, GraphQLScalarType)
    return named


async def test_the_upload_example_ingests_the_file(
    http: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    """The ingest example, sent as curl sends it, registers the file."""
    (example,) = [
        CurlExample(b) for b in BASH_BLOCKS if "IngestAsset.graphql" in b
    ]  # fmt: skip
    # A real file of the documented name (clip.mp4): a one-second H.264 clip.
    files = {
        name: (
            Path(path).name,
            make_video(tmp_path / Path(path).name).read_bytes(),
            "application/octet-stream",
        )
        for name, path in example.files.items()
    }
    response = await http.post(
        "/graphql",
        data={"operations": example.operations(), "map": json.dumps(example.map)},
        files=files,
    )
    payload = response.json()["data"]["ingestAsset"]
    assert payload["__typename"] == "IngestAssetSuccess", payload
    assert (payload["created"], payload["asset"]["title"], payload["asset"]["kind"]) == (
        True,
        "Clip",
        "VIDEO",
    )
    assert payload["job"]["status"] == "QUEUED"
