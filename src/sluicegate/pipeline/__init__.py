"""The one request pipeline: every door (HTTP, CLI, internal calls) hands a `PipelineRequest` and
its `RequestContext` to the `Orchestrator` and renders the frames it yields."""
