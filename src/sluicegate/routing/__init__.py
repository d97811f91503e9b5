"""Which role answers a request, and with which chain of providers."""
