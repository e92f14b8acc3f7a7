from .base_model import BaseModel
from .enums import SearchFacetField


class Facets(BaseModel):
    facets: list["FacetsFacets"]


class FacetsFacets(BaseModel):
    field: SearchFacetField
    values: list["FacetsFacetsValues"]


class FacetsFacetsValues(BaseModel):
    value: str
    count: int


Facets.model_rebuild()
FacetsFacets.model_rebuild()
