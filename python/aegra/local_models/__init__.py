"""Local embedding models (fastembed): whether one is cached, fetching it ahead of time with
progress, and failing fast with guidance where the model hub cannot be reached (cache.py)."""

from aegra.local_models.cache import (
    FASTEMBED_PREFIX,
    ModelInfo,
    ModelUnavailableError,
    cache_dir,
    describe,
    download,
    fastembed_model,
    guidance,
    hub_unreachable,
    is_cached,
    load_text_embedding,
)

__all__ = [
    "FASTEMBED_PREFIX",
    "ModelInfo",
    "ModelUnavailableError",
    "cache_dir",
    "describe",
    "download",
    "fastembed_model",
    "guidance",
    "hub_unreachable",
    "is_cached",
    "load_text_embedding",
]
