"""The HTTP edge: the shared resolver, error mapping, identity of the caller."""

from sheetbrain.http.resolver import (
    add_response_headers,
    authenticate,
    current_identity,
    make_resolver,
    raw_body,
)

__all__ = ["add_response_headers", "authenticate", "current_identity", "make_resolver", "raw_body"]
