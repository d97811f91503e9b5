"""Wrappers around the provider port: failover chains (and, in time, breakers, retries,
limits and coalescing). Each wrapper is itself a provider, so they compose."""
