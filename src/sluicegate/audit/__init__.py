"""The audit trail: versioned events, appended to an event log (SQLite or PostgreSQL)."""
