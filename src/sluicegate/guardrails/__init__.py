"""What flows out: PII and policy scanners, and (in time) the post-stream pipeline."""
