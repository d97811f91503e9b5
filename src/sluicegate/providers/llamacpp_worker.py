"""The embedded model's worker process: llama.cpp runs here, never in the gateway.

A native crash (a segfault in a CPU kernel, an OOM kill) ends this process and nothing else; the
supervisor in the gateway (`llamacpp_process`) sees the pipe close, fails the requests in flight
and starts a new worker.

Started as `python -m sluicegate.providers.llamacpp_worker SETTINGS_JSON`. The protocol is one
JSON object per line: requests on stdin, replies on the original stdout (fd 1 is pointed at
stderr, so whatever native code prints can never corrupt the protocol).

    gateway -> worker  {"op": "generate", "id", "prompt", "options", "max_tokens"}
                       (options: llama.cpp's sampling arguments, and "grammar": a JSON schema's text
                       that the output must satisfy, turned into a llama.cpp grammar here)
                       {"op": "count", "id", "prompt"}
                       {"op": "cancel", "id"}
    worker -> gateway  {"event": "ready", "pid", "load_s", "extra_buffers"} | {"event": "failed", "error"}
                       {"id", "text"} ... {"id", "done": true, "finish", "prompt_tokens", "completion_tokens"}
                       {"id", "tokens"}                     (the answer to count)
                       {"id", "error", "kind": "bad_request" | "server"}

The model is single-threaded: jobs run one after another on the main thread, while a reader
thread keeps reading so that a cancel (the client went away) stops a generation at its next token.
End of input (the gateway closed the pipe or died) cancels everything and exits: no orphans.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import orjson

from sluicegate.errors import SluicegateError

CHATML_STOP = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
# Exercises both paths a request takes (a batch of prompt tokens, then one-token decode steps), so a
# kernel that faults on this CPU faults here, while the supervisor can still fall back.
PROBE_PROMPT = "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n"


class BadPrompt(SluicegateError):
    """A prompt the context cannot hold; told to the gateway as a bad request."""


class Replies:
    """Writes protocol lines; one lock, because the job thread and the reader both reply."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = orjson.dumps(message) + b"\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except OSError:
                # The gateway is gone: nobody is left to answer.
                os._exit(0)


def main(argv: list[str]) -> int:
    settings: dict[str, Any] = orjson.loads(argv[1])
    replies = Replies(_claim_stdout())
    # Ctrl-C in a terminal reaches the whole process group; the gateway decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    started = time.perf_counter()
    try:
        llama = load(settings)
        llama.create_completion(PROBE_PROMPT, max_tokens=2, temperature=0.0)
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which translates it
        replies.send({"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 3
    replies.send(
        {
            "event": "ready",
            "pid": os.getpid(),
            "load_s": round(time.perf_counter() - started, 4),
            "extra_buffers": bool(settings["extra_buffers"]),
        }
    )
    serve(llama, int(settings["n_ctx"]), replies)
    return 0


def serve(llama: Any, n_ctx: int, replies: Replies) -> None:
    jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
    cancels: dict[int, threading.Event] = {}
    reader = threading.Thread(target=_read_requests, args=(jobs, cancels), daemon=True)
    reader.start()
    # The model runs on the main thread: on a thread of its own, the first token of each answer
    # came 40 ms later (88 against 134 ms median on two cores, llama.cpp 0.3.36).
    _run_jobs(llama, n_ctx, jobs, cancels, replies)


def _read_requests(jobs: queue.Queue[dict[str, Any] | None], cancels: dict[int, threading.Event]) -> None:
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        job_id = int(message["id"])
        if message["op"] == "cancel":
            event = cancels.get(job_id)
            if event is not None:
                event.set()
            continue
        cancels[job_id] = threading.Event()
        jobs.put(message)
    # End of input: the gateway closed the pipe or died. Stop what runs, then the job loop.
    for event in list(cancels.values()):
        event.set()
    jobs.put(None)


def load(settings: dict[str, Any]) -> Any:
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as bindings

    with _model_params(bindings, use_extra_bufts=bool(settings["extra_buffers"])):
        return Llama(
            model_path=str(settings["model_path"]),
            n_ctx=int(settings["n_ctx"]),
            n_threads=settings.get("n_threads"),
            verbose=False,
        )


@contextmanager
def _model_params(bindings: Any, *, use_extra_bufts: bool) -> Iterator[None]:
    """`Llama(...)` takes its model parameters from `llama_model_default_params()` and has no
    argument for `use_extra_bufts`; this worker is the only user of llama.cpp in its process, so
    the defaults are amended for the one call that loads the model."""
    original = bindings.llama_model_default_params
    if not hasattr(original(), "use_extra_bufts"):
        raise RuntimeError("this llama-cpp-python has no use_extra_bufts; install llama-cpp-python>=0.3.36")

    def amended() -> Any:
        params = original()
        params.use_extra_bufts = use_extra_bufts
        return params

    bindings.llama_model_default_params = amended
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


def _run_jobs(
    llama: Any,
    n_ctx: int,
    jobs: queue.Queue[dict[str, Any] | None],
    cancels: dict[int, threading.Event],
    replies: Replies,
) -> None:
    while (job := jobs.get()) is not None:
        job_id = int(job["id"])
        cancelled = cancels.get(job_id) or threading.Event()
        try:
            if job["op"] == "count":
                replies.send({"id": job_id, "tokens": _count(llama, job["prompt"])})
            elif not cancelled.is_set():
                _generate(llama, n_ctx, job, cancelled, replies)
            else:
                replies.send({"id": job_id, "error": "cancelled", "kind": "server"})
        except BadPrompt as exc:
            replies.send({"id": job_id, "error": str(exc), "kind": "bad_request"})
        except Exception as exc:  # noqa: BLE001 - llama.cpp raises plain exceptions; translated by the gateway
            replies.send(
                {"id": job_id, "error": f"llama.cpp failed ({type(exc).__name__})", "kind": "server"}
            )
        finally:
            cancels.pop(job_id, None)


def _count(llama: Any, prompt: str) -> int:
    return len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))


def _generate(
    llama: Any, n_ctx: int, job: dict[str, Any], cancelled: threading.Event, replies: Replies
) -> None:
    job_id = int(job["id"])
    prompt: str = job["prompt"]
    prompt_tokens = _count(llama, prompt)
    room = n_ctx - prompt_tokens
    if room <= 0:
        raise BadPrompt(f"the prompt has {prompt_tokens} tokens; the context holds {n_ctx}")
    requested = job.get("max_tokens")
    max_tokens = min(int(requested) if requested else room, room)
    options: dict[str, Any] = dict(job["options"])
    options["stop"] = CHATML_STOP + list(options.get("stop", []))
    if "grammar" in options:
        options["grammar"] = _grammar(str(options["grammar"]))
    stream = llama.create_completion(prompt, max_tokens=max_tokens, stream=True, **options)
    completion_tokens = 0
    finish = "stop"
    try:
        for part in stream:
            if cancelled.is_set():
                break
            choice = part["choices"][0]
            text = choice.get("text") or ""
            if text:
                completion_tokens += 1
                replies.send({"id": job_id, "text": text})
            if choice.get("finish_reason") == "length":
                finish = "length"
    finally:
        stream.close()
    replies.send(
        {
            "id": job_id,
            "done": True,
            "finish": finish,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
    )


_GRAMMARS: dict[str, Any] = {}


def _grammar(schema: str) -> Any:
    """The llama.cpp grammar for a JSON schema, built once per schema (an agent sends the same tools
    on every turn)."""
    grammar = _GRAMMARS.get(schema)
    if grammar is None:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(schema, verbose=False)
        except Exception as exc:  # noqa: BLE001 - the converter raises plain exceptions
            raise BadPrompt(f"the JSON schema cannot be turned into a grammar: {exc}") from None
        if len(_GRAMMARS) >= 64:
            _GRAMMARS.pop(next(iter(_GRAMMARS)))
        _GRAMMARS[schema] = grammar
    return grammar


def _claim_stdout() -> IO[bytes]:
    """The protocol keeps the original stdout; fd 1 then points at stderr for native prints."""
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


if __name__ == "__main__":
    sys.exit(main(sys.argv))
