"""Routers of the API, grouped by the function that serves them."""
