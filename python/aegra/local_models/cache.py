"""The local model behind `store.index.embed: "fastembed:MODEL"`: is it cached, fetch it ahead of time
with a progress bar, and fail fast when the model hub cannot be reached.

fastembed downloads a model the first time it is constructed, from Hugging Face (or `HF_ENDPOINT`),
into its cache (`FASTEMBED_CACHE_PATH`, default `<tmp>/fastembed_cache`). With no network it
retries three times, sleeping 3 + 9 + 27 s: a first store write waited 39 s for nothing. Here:

- `is_cached` asks fastembed's own cache lookup (local files only: no network);
- `download` probes the hub first (a few seconds at most), then downloads with one attempt and
  the progress bar given; a failure is a `ModelUnavailableError` that says what to do instead;
- `load_text_embedding` is what the store's embedder calls: the cached copy with no network at
  all, else `download` first.

Used by `aegra models pull`, `aegra init`, `aegra validate` (cli/models.py), by the store's
fastembed embedder (store/embeddings.py) and, in the background, by `aegra dev`
(`python -m aegra.local_models MODEL`, see __main__.py). fastembed is imported only when a function
here needs it: it costs a second of startup.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

FASTEMBED_PREFIX = "fastembed:"
DEFAULT_ENDPOINT = "https://huggingface.co"
# Connecting to the hub takes well under a second where it is reachable; no answer in this
# long means no network (or a firewall), and waiting longer only delays the same error.
PROBE_TIMEOUT_SECONDS = 5.0


class ModelUnavailableError(RuntimeError):
    """The model is not cached and cannot be downloaded; the message says what to do."""


@dataclass(frozen=True)
class ModelInfo:
    name: str  # as configured, e.g. BAAI/bge-small-en-v1.5
    hf_repo: str | None  # where fastembed downloads it from, e.g. Qdrant/bge-small-en-v1.5-onnx-Q
    size_mb: float  # fastembed's figure for the download
    dims: int | None

    @property
    def cache_folder(self) -> str:
        """The folder name fastembed's cache gives this model (Hugging Face's cache layout)."""
        return f"models--{self.hf_repo.replace('/', '--')}" if self.hf_repo else self.name.split("/")[-1]


def fastembed_model(embed: str | None) -> str | None:
    """`BAAI/bge-small-en-v1.5` for `fastembed:BAAI/bge-small-en-v1.5`; None for other embedders."""
    if embed and embed.startswith(FASTEMBED_PREFIX):
        return embed[len(FASTEMBED_PREFIX) :] or None
    return None


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Where fastembed keeps models: the same rule as `fastembed.common.utils.define_cache_dir`
    (repeated here so that callers need not import fastembed to print it)."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.getenv("FASTEMBED_CACHE_PATH", os.path.join(tempfile.gettempdir(), "fastembed_cache")))


def describe(name: str) -> ModelInfo:
    """fastembed's description of `name`; `ModelUnavailableError` if fastembed has no such model."""
    _, description = _implementation(name)
    sources = getattr(description, "sources", None)
    return ModelInfo(
        name=description.model,
        hf_repo=getattr(sources, "hf", None),
        size_mb=round(float(getattr(description, "size_in_GB", 0.0) or 0.0) * 1000, 1),
        dims=getattr(description, "dim", None),
    )


def is_cached(name: str, folder: str | Path | None = None) -> bool:
    """Whether fastembed finds `name` in its cache without the network (false for unknown models)."""
    try:
        implementation, description = _implementation(name)
    except ModelUnavailableError:
        return False
    with _fastembed_quiet():
        try:
            implementation.download_model(description, str(cache_dir(folder)), local_files_only=True)
        except Exception:
            return False
    return True


def download(name: str, folder: str | Path | None = None, *, progress: type | None = None) -> Path:
    """Fetch `name` into the cache (nothing to do when cached); returns its folder.

    `progress`: a tqdm class for the bytes (huggingface_hub's bar by default). Offline, this fails
    within PROBE_TIMEOUT_SECONDS with a `ModelUnavailableError` that says what to do.
    """
    implementation, description = _implementation(name)
    target = cache_dir(folder)
    if is_cached(name, target):
        return _located(implementation, description, target)
    unreachable = hub_unreachable()
    if unreachable:
        raise ModelUnavailableError(guidance(name, unreachable, target))
    extra: dict[str, Any] = {"tqdm_class": progress} if progress is not None else {}
    try:
        with _fastembed_quiet():
            # One attempt: fastembed's own retries sleep 39 s in all before the same failure.
            return Path(implementation.download_model(description, str(target), retries=1, **extra))
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelUnavailableError(guidance(name, reason, target)) from exc


def load_text_embedding(name: str, **options: Any) -> Any:
    """A fastembed `TextEmbedding` for `name`: from the cache with no network when it is there,
    else downloaded first (failing fast, with guidance, when it cannot be)."""
    from fastembed import TextEmbedding

    if not options.get("specific_model_path") and not options.get("local_files_only"):
        if not is_cached(name, options.get("cache_dir")):
            download(name, options.get("cache_dir"))
        options = {**options, "local_files_only": True}
    return TextEmbedding(model_name=name, **options)


def hub_unreachable(timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """None when the model hub answers a TCP connection; else why not (in words for the user)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "TRUE", "YES", "ON"}:
        return "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (80 if parts.scheme == "http" else 443)
    outcome: list[str | None] = []

    def probe() -> None:
        # In a thread: a name lookup has no timeout of its own.
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"cannot connect to {endpoint}: {exc.strerror or exc}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    return outcome[0] if outcome else f"no answer from {endpoint} within {timeout:.0f} s"


def guidance(name: str, reason: str, folder: Path | None = None) -> str:
    """What to do when `name` cannot be downloaded: the one message every caller shows."""
    folder = folder or cache_dir()
    try:
        copy = f"its folder {describe(name).cache_folder}"
    except ModelUnavailableError:
        copy = "its folder"
    return (
        f"the embedding model {name} is not in {folder} and cannot be downloaded ({reason}). "
        f"Either copy {copy} from the fastembed cache of a machine that has it into {folder} "
        "(or point FASTEMBED_CACHE_PATH at a folder that holds it) and set HF_HUB_OFFLINE=1; "
        "or use another embedder in store.index.embed: 'openai:text-embedding-3-small' (needs "
        "OPENAI_API_KEY) or './file.py:function' (your own function)"
    )


def _implementation(name: str) -> tuple[Any, Any]:
    """The fastembed class that serves `name`, and its description of it."""
    from fastembed import TextEmbedding

    # TextEmbedding picks its implementation the same way: the first class that lists the model.
    for implementation in TextEmbedding.EMBEDDINGS_REGISTRY:
        for description in implementation._list_supported_models():
            if description.model.lower() == name.lower():
                return implementation, description
    raise ModelUnavailableError(
        f'fastembed has no model {name!r} (`python -c "from fastembed import TextEmbedding; '
        'print(TextEmbedding.list_supported_models())"` lists them)'
    )


def _located(implementation: Any, description: Any, folder: Path) -> Path:
    with _fastembed_quiet():
        return Path(implementation.download_model(description, str(folder), local_files_only=True))


@contextmanager
def _fastembed_quiet() -> Any:
    """fastembed logs each failed lookup as an error (through loguru); a miss is an answer here."""
    from loguru import logger as loguru_logger

    loguru_logger.disable("fastembed")
    try:
        yield
    finally:
        loguru_logger.enable("fastembed")
