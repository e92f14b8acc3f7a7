from .base_model import BaseModel
from .enums import SearchFacetField


class SearchFacets(BaseModel):
    search: "SearchFacetsSearch"


class SearchFacetsSearch(BaseModel):
    facets: list["SearchFacetsSearchFacets"]


class SearchFacetsSearchFacets(BaseModel):
    field: SearchFacetField
    values: list["SearchFacetsSearchFacetsValues"]


class SearchFacetsSearchFacetsValues(BaseModel):
    value: str
    count: int


SearchFacets.model_rebuild()
SearchFacetsSearch.model_rebuild()
SearchFacetsSearchFacets.model_rebuild()
