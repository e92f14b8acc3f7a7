"""Keeping the search index in line with the database: the rows search documents are rendered
from (``repository.py``); the rendering itself is the search library's (``search/render.py``)."""
