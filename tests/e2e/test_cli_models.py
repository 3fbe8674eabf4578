"""The store's embedding model, as a newcomer meets it: `aegra models pull`, `init --download-model`,
`validate`, and `aegra dev` fetching it in the background; with no network, and with a model hub
on 127.0.0.1 (tests/support/fake_hub.py) that serves a tiny model shaped like the real one."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import aegra, aegra_argv, clean_env, one_error_line
from tests.e2e.test_cli_dev_loop import dev_server, wait_for
from tests.support.fake_hub import FakeHub, fake_hub, repo_files, seed_cache
from tests.support.postgres import free_port
from tests.support.tiny_model import build_onnx_model

MODEL = "BAAI/bge-small-en-v1.5"  # what `aegra init --sqlite` configures
REPO = "Qdrant/bge-small-en-v1.5-onnx-Q"  # where fastembed fetches it from
MODEL_FILE = "model_optimized.onnx"


@cache
def model_files(folder: Path) -> dict[str, bytes]:
    """A tiny BERT-shaped model with the real one's file names and output size (384), padded to
    about the real download size so that progress has tenths to report."""
    build_onnx_model(folder, dims=384, pad_to_bytes=64_000_000)
    return repo_files(folder, {"model.onnx": MODEL_FILE})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return model_files(tmp_path_factory.mktemp("model"))


@pytest.fixture
def hub(files: dict[str, bytes]) -> Iterator[FakeHub]:
    with fake_hub(REPO, files) as running:
        yield running


def env_for(cache_dir: Path, hub: FakeHub | None = None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in clean_env().items() if key not in ("HF_ENDPOINT", "HF_HUB_OFFLINE")}
    env["FASTEMBED_CACHE_PATH"] = str(cache_dir)
    # No hub: an address where nothing listens, as with no network (never the real hub).
    env["HF_ENDPOINT"] = hub.url if hub else f"http://127.0.0.1:{free_port()}"
    return {**env, **extra}


def model_requests(hub: FakeHub) -> list[str]:
    return [request for request in hub.requests if request.startswith("GET /api/models/")]


@pytest.mark.parametrize("offline", ["no_network", "hf_hub_offline"])
def test_an_offline_pull_fails_fast_and_says_what_to_do(tmp_path: Path, offline: str) -> None:
    env = env_for(tmp_path / "cache", **({"HF_HUB_OFFLINE": "1"} if offline == "hf_hub_offline" else {}))
    line = one_error_line(aegra("models", "pull", MODEL, cwd=tmp_path, env=env))
    assert MODEL in line and str(tmp_path / "cache") in line
    assert f"models--{REPO.replace('/', '--')}" in line, "names the folder to copy"
    for advice in ("FASTEMBED_CACHE_PATH", "HF_HUB_OFFLINE=1", "openai:", "./file.py:function"):
        assert advice in line, advice
    assert ("HF_HUB_OFFLINE is set" if offline == "hf_hub_offline" else "cannot connect to") in line


def test_a_hub_that_fails_is_asked_once_not_three_times(tmp_path: Path) -> None:
    # Reachable, but without the repository: fastembed's own loop would ask three times, sleeping
    # 3 + 9 + 27 s in between.
    with fake_hub("someone/else", {"x": b"y"}) as hub:
        line = one_error_line(aegra("models", "pull", MODEL, cwd=tmp_path, env=env_for(tmp_path / "cache", hub)))
        asked = model_requests(hub)
    assert MODEL in line and "FASTEMBED_CACHE_PATH" in line
    assert len([r for r in asked if r.endswith(REPO)]) == 1, asked


def test_pull_downloads_with_a_progress_bar_then_validate_reports_it_cached(tmp_path: Path, hub: FakeHub) -> None:
    aegra("init", "--sqlite", cwd=tmp_path)
    env = env_for(tmp_path / "cache", hub)
    before = aegra("validate", cwd=tmp_path, env=env)
    assert before.returncode == 0, before.stderr
    assert f"model:    NOT cached in {tmp_path / 'cache'} (~67 MB): `aegra models pull`" in before.stdout

    pulled = aegra("models", "pull", cwd=tmp_path, env=env)  # the configured model
    assert pulled.returncode == 0, pulled.stderr
    assert f"Downloading {MODEL} (~67 MB)" in pulled.stdout and f"{MODEL}: ready" in pulled.stdout
    assert "100%" in pulled.stderr, "huggingface_hub's progress bar"
    assert (tmp_path / "cache" / f"models--{REPO.replace('/', '--')}").is_dir()

    after = aegra("validate", cwd=tmp_path, env=env)
    assert f"model:    cached in {tmp_path / 'cache'}" in after.stdout
    again = aegra("models", "pull", cwd=tmp_path, env=env_for(tmp_path / "cache"))  # no hub needed now
    assert again.returncode == 0 and "already cached" in again.stdout


def test_validate_says_a_model_fastembed_does_not_know_is_not_cached(tmp_path: Path) -> None:
    (tmp_path / "aegra.json").write_text('{"store": {"index": {"embed": "fastembed:nobody/no-such-model", "dims": 8}}}')
    result = aegra("validate", cwd=tmp_path, env=env_for(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert "model:    NOT a model fastembed knows: 'nobody/no-such-model'" in result.stdout


def test_validate_says_nothing_about_models_for_other_embedders(tmp_path: Path) -> None:
    (tmp_path / "embed.py").write_text("def embed(texts):\n    return [[1.0] for _ in texts]\n")
    (tmp_path / "aegra.json").write_text('{"store": {"index": {"embed": "./embed.py:embed", "dims": 1}}}')
    result = aegra("validate", cwd=tmp_path, env=env_for(tmp_path / "cache"))
    assert result.returncode == 0 and "model:" not in result.stdout


def test_init_downloads_the_model_when_asked_and_never_waits_for_input_in_a_script(
    tmp_path: Path, hub: FakeHub
) -> None:
    env = env_for(tmp_path / "cache", hub)
    scripted = subprocess.run(
        aegra_argv("init", "--sqlite", "a"), cwd=tmp_path, env=env, capture_output=True, text=True,
        stdin=subprocess.PIPE, timeout=120,  # a pipe nobody writes to: a prompt would wait until the timeout
    )  # fmt: skip
    assert scripted.returncode == 0, scripted.stderr
    assert "`aegra models pull`" in scripted.stdout and not (tmp_path / "cache").exists()

    asked = aegra("init", "--sqlite", "b", "--download-model", cwd=tmp_path, env=env)
    assert asked.returncode == 0, asked.stderr
    assert f"{MODEL}: ready" in asked.stdout and (tmp_path / "cache").is_dir()
    declined = aegra("init", "--sqlite", "c", "--no-download-model", cwd=tmp_path, env=env)
    assert declined.returncode == 0 and "models pull" not in declined.stdout


def test_init_on_a_terminal_asks_before_downloading(tmp_path: Path, hub: FakeHub) -> None:
    output = run_on_a_terminal(aegra_argv("init", "--sqlite"), tmp_path, env_for(tmp_path / "cache", hub), answer="y")
    assert f"Download the store's embedding model {MODEL} now (~67 MB)? [Y/n]" in output
    assert f"{MODEL}: ready" in output and (tmp_path / "cache").is_dir()
    declined = run_on_a_terminal(
        aegra_argv("init", "--sqlite", "other"), tmp_path, env_for(tmp_path / "cache2", hub), answer="n"
    )
    assert "Skipped: `aegra models pull` downloads it" in declined and not (tmp_path / "cache2").exists()


def run_on_a_terminal(argv: list[str], cwd: Path, env: dict[str, str], answer: str, timeout: float = 120) -> str:
    """Run `argv` with a pseudo-terminal for stdin and stdout; type `answer` at the first `?`."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    output, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # the terminal is gone: the process ended
                    break
                output += chunk
                if not answered and b"?" in output:
                    os.write(primary, f"{answer}\n".encode())
                    answered = True
            elif process.poll() is not None:
                break
        process.wait(timeout=30)
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
    return output.decode(errors="replace")


def test_dev_downloads_a_missing_model_in_the_background_and_semantic_search_then_works(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    project = tmp_path / "project"
    assert aegra("init", "--sqlite", str(project), "--no-download-model", cwd=tmp_path).returncode == 0
    shutil.copyfile(project / ".env.example", project / ".env")
    with fake_hub(REPO, files, hold=True) as hub:
        env = env_for(tmp_path / "cache", hub)
        with dev_server(project, tmp_path_factory.mktemp("logs"), env=env) as server:
            # Serving while the model is still on its way (the hub holds half of it).
            assert httpx.get(f"{server.url}/ok").status_code == 200
            wait_for("a progress line", lambda: "store.index: BAAI/bge-small-en-v1.5: 40%" in server.log())
            log = server.log()
            assert f"downloading it (~67 MB) into {tmp_path / 'cache'}, in the background" in log
            assert "is ready" not in log

            hub.release()
            wait_for("the download to end", lambda: f"the embedding model {MODEL} is ready" in server.log())
            assert "is ready (64." in server.log(), "with the size downloaded"
            put = httpx.put(
                f"{server.url}/store/items",
                json={"namespace": ["notes"], "key": "a", "value": {"text": "the cat sleeps on the chair"}},
            )
            assert put.status_code in (200, 204), put.text
            found = httpx.post(
                f"{server.url}/store/items/search", json={"namespace_prefix": ["notes"], "query": "cat"}
            ).json()["items"]
            assert [item["key"] for item in found] == ["a"] and found[0]["score"] is not None


def test_the_react_agent_template_remembers_by_meaning_on_sqlite(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    project = tmp_path / "agent"
    assert aegra("init", "--sqlite", "--template", "react-agent", str(project), cwd=tmp_path).returncode == 0
    shutil.copyfile(project / ".env.example", project / ".env")
    seed_cache(tmp_path / "cache", REPO, files)  # as `aegra models pull` leaves it
    env = env_for(tmp_path / "cache", HF_HUB_OFFLINE="1")
    with dev_server(project, tmp_path_factory.mktemp("logs"), env=env) as server:
        ada = {"configurable": {"user_id": "ada"}}

        def say(text: str) -> str:
            body = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}, "config": ada}
            answer = httpx.post(f"{server.url}/runs/wait", json=body, timeout=60)
            assert answer.status_code == 200, answer.text
            return str(answer.json()["messages"][-1]["content"])

        assert "Saved to memory" in say("Please remember that I like green tea with milk")
        assert "Saved to memory" in say("Please remember that my dog is called Rex")
        # A new conversation: the memory comes back from the store, ranked by meaning.
        recalled = say("Which tea do I like?")
        log = server.log()
        searched = httpx.post(
            f"{server.url}/store/items/search", json={"namespace_prefix": ["memories", "ada"], "query": "tea"}
        ).json()["items"]
    assert "I remember: Please remember that I like green tea with milk" in recalled
    assert searched[0]["value"]["text"] == "Please remember that I like green tea with milk"
    assert all(item["score"] is not None for item in searched)
    assert "embedding failed" not in log, log
