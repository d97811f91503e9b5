"""The security boundary: the egress guard, secret hygiene, trust signals from allowlisted checkers."""
