"""What generated projects say the embedding model's download weighs is fastembed's own figure
for it (issue 19: the SQLite guide's "~45MB" was not; `aegra init` writes its README without
importing fastembed, so the figure is a constant there)."""

from __future__ import annotations

from pathlib import Path

from aegra.cli.scaffold import SQLITE_MODEL_MB
from aegra.local_models.cache import describe

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_figure_is_fastembeds_size_of_the_model_aegra_init_configures() -> None:
    described = describe("BAAI/bge-small-en-v1.5")
    assert described.hf_repo == "Qdrant/bge-small-en-v1.5-onnx-Q"
    assert round(described.size_mb) == SQLITE_MODEL_MB == 67


def test_no_file_of_ours_repeats_the_guides_figure() -> None:
    ours = [*(REPO / "python" / "aegra").rglob("*"), *(REPO / "docs").rglob("*.md"), REPO / "README.md"]
    for path in ours:
        if path.is_file() and path.suffix in {".py", ".md", ".json", ".html", ".txt", ""}:
            text = path.read_text(errors="ignore")
            if "45MB" in text.replace(" ", "") and path.name != "local-dev.md":  # local-dev.md quotes the guide
                raise AssertionError(f"{path} says the model is ~45 MB")
