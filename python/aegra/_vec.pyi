"""Types of the Rust extension `aegra._vec` (crates/aegra-vec, built by maturin)."""

from typing import TypedDict

__version__: str

class BuildInfo(TypedDict):
    version: str
    profile: str
    arch: str
    simd: list[str]
    description: str

def build_info() -> BuildInfo:
    """Facts about the compiled extension: version, cargo profile, arch and SIMD features."""
