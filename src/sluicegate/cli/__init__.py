"""The `sluicegate` command."""
