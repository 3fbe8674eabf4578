"""`.env.example` text, generated from `aegra.config.ENV_VARS` (the one list of settings).

The repository's own `.env.example` is this module's output with no values:
`python -m aegra.cli.env_example > .env.example` regenerates it. `aegra init` adds the values
the new project needs (uncommented) and the chat model's key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aegra.config import ENV_VARS

HEADER = (
    "# Every setting Aegra reads from the environment, with its default. Copy to .env and edit.\n"
    "# Values already in the environment win over this file.\n"
)

MODEL_SECTION = (
    "\n# The graph's chat model. Without a key it answers with a local fallback model (offline, labelled);\n"
    "# with one it uses OpenAI (needs `pip install langchain-openai`).\n"
    "# OPENAI_API_KEY=\n"
    "# OPENAI_MODEL=gpt-4o-mini\n"
)


def render_env_example(values: Mapping[str, str] | None = None, *, with_model: bool = False) -> str:
    """Every setting, commented out with its default; those in `values` set (uncommented)."""
    values = values or {}
    unknown = set(values) - {var.name for var in ENV_VARS}
    if unknown:
        raise ValueError(f"not Aegra settings: {sorted(unknown)}")
    blocks = []
    for var in ENV_VARS:
        line = f"{var.name}={values[var.name]}" if var.name in values else f"# {var.name}={var.default or ''}"
        blocks.append(f"# {var.help}\n{line}\n")
    return HEADER + "\n" + "\n".join(blocks) + (MODEL_SECTION if with_model else "")


if __name__ == "__main__":
    print(render_env_example(), end="")
