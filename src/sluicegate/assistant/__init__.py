"""The guarded shop assistant: catalog facts, placeholders, guardrails and corrections as frames."""
