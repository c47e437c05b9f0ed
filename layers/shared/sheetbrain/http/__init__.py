"""The HTTP edge: the shared resolver, error mapping, identity of the caller."""

from sheetbrain.http.resolver import add_response_headers, current_identity, make_resolver

__all__ = ["add_response_headers", "current_identity", "make_resolver"]
