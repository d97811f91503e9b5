"""A lean HTTP/1.1 client for provider traffic (see `client.py` for why it exists)."""

from sluicegate.providers.http1.client import AddressLookup, Exchange, Http1Client, Response

__all__ = ["AddressLookup", "Exchange", "Http1Client", "Response"]
