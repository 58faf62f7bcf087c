"""One module per API area: its call builders (``RequestSpec``) and its request and response schemas (pydantic)."""
