"""Settings: config file discovery and validation, database selection, environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aegra.config import ENV_VARS, ConfigError, database_from_env, load_settings, redact_password
from tests.support.projects import write_project


def settings_for(folder: Path, **env: str):
    return load_settings(environ=env, cwd=folder)


def write_config(folder: Path, config: object, name: str = "aegra.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(config))
    return path


def test_defaults_to_sqlite_file_in_the_current_folder(tmp_path: Path) -> None:
    write_project(tmp_path)
    settings = settings_for(tmp_path)
    assert settings.database.backend == "sqlite"
    assert settings.database.sqlite_path == tmp_path / "aegra.db"
    assert settings.port == 2026 and settings.host == "127.0.0.1"
    assert settings.n_jobs_per_worker == 10
    assert list(settings.config.graph_specs()) == ["agent"]


def test_finds_aegra_json_before_langgraph_json(tmp_path: Path) -> None:
    write_project(tmp_path, {"graphs": {"from_aegra": "./graph.py:graph"}})
    write_config(tmp_path, {"graphs": {"from_langgraph": "./graph.py:graph"}}, "langgraph.json")
    assert list(settings_for(tmp_path).config.graphs) == ["from_aegra"]


def test_a_users_langgraph_json_works(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = {
        "dependencies": ["."],
        "graphs": {"agent": {"path": "./graph.py:graph", "description": "My agent"}},
        "python_version": "3.11",
        "dockerfile_lines": [],
        "env": {"SOME_KEY": "x"},
        "store": {"index": {"embed": "openai:text-embedding-3-small", "dims": 1536, "fields": ["$"]}},
    }
    write_project(tmp_path, config, name="langgraph.json")
    with caplog.at_level(logging.WARNING):
        settings = settings_for(tmp_path)
    assert settings.config_path.name == "langgraph.json"
    assert settings.config.graph_specs()["agent"].description == "My agent"
    assert settings.config.store and settings.config.store.index and settings.config.store.index.dims == 1536
    warned = caplog.text
    assert "python_version" in warned and "dockerfile_lines" in warned


def test_unknown_keys_warn_and_never_crash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "shiny_new_key": 1, "http": {"later": True}})
    with caplog.at_level(logging.WARNING):
        settings_for(tmp_path)
    assert "shiny_new_key" in caplog.text and "http.later" in caplog.text


def test_aegra_config_env_var_wins_and_relative_paths_use_its_folder(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    config = write_project(project, {"graphs": {"agent": "./graph.py:graph"}}, name="custom.json")
    write_project(tmp_path, {"graphs": {"other": "./graph.py:graph"}})
    settings = settings_for(tmp_path, AEGRA_CONFIG=str(config))
    assert settings.config_path == config
    assert settings.base_dir == project
    assert settings.resolve("./graph.py") == project / "graph.py"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"graphs": {"agent": "./missing.py:graph"}}, "`graphs.agent` points to"),
        ({"graphs": {"agent": "no-colon"}}, "`graphs.agent` must look like"),
        ({"graphs": "agent"}, "`graphs`: expected `object`, got `str`"),
        ({"graphs": {}, "store": {"index": {"embed": "fastembed:x", "dims": 0}}}, "`store.index.dims`"),
        ({"graphs": {}, "store": {"index": {"embed": "fastembed:x", "dims": "384"}}}, "`store.index.dims`"),
        ({"graphs": {}, "store": {"index": {"embed": "fastembed:x"}}}, "`store.index`: object missing"),
        ({"graphs": {}, "store": {"index": {"embed": "cohere:embed", "dims": 3}}}, "unsupported provider 'cohere'"),
        ({"graphs": {}, "store": {"index": {"embed": "fastembed", "dims": 3}}}, "`store.index.embed` must be"),
        ({"graphs": {}, "store": {"index": {"embed": "./emb.py:fn", "dims": 3}}}, "`store.index.embed` points to"),
        ({"graphs": {}, "checkpointer": {"durability": "sometimes"}}, "`checkpointer.durability`"),
        ({"graphs": {}, "auth": {"disable_studio_auth": "yes"}}, "`auth.disable_studio_auth`"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_invalid_config_names_the_key_and_the_file(tmp_path: Path, config: object, expected: str) -> None:
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError) as raised:
        settings_for(tmp_path)
    message = str(raised.value)
    assert expected in message
    assert str(path) in message


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "aegra.json").write_text('{"graphs": {"a": "./g.py:graph",}}')
    with pytest.raises(ConfigError, match=r"aegra\.json: malformed JSON"):
        settings_for(tmp_path)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"found neither aegra\.json nor langgraph\.json"):
        settings_for(tmp_path)
    with pytest.raises(ConfigError, match="AEGRA_CONFIG points to"):
        settings_for(tmp_path, AEGRA_CONFIG="nope.json")


def test_embed_accepts_providers_and_user_functions(tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text("def fn(texts): return [[0.0] for _ in texts]\n")
    for embed in ("fastembed:BAAI/bge-small-en-v1.5", "openai:text-embedding-3-small", "./emb.py:fn", "pkg.mod:fn"):
        write_project(tmp_path, {"graphs": {}, "store": {"index": {"embed": embed, "dims": 384}}})
        assert settings_for(tmp_path).config.store.index.embed == embed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///./x.db", "x.db"), ("sqlite:///sub/dir/x.db", "sub/dir/x.db"), ("sqlite+aiosqlite:///./y.db", "y.db")],
)
def test_relative_sqlite_urls_resolve_from_the_current_folder(tmp_path: Path, url: str, path: str) -> None:
    db = database_from_env({"DATABASE_URL": url}, tmp_path)
    assert db.backend == "sqlite" and db.sqlite_path == tmp_path / path


def test_absolute_sqlite_url(tmp_path: Path) -> None:
    db = database_from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/abs.db"}, Path("/somewhere/else"))
    assert db.sqlite_path == tmp_path / "abs.db"
    assert db.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path}/abs.db"


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "mysql://x/y", "not a url"])
def test_unusable_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        database_from_env({"DATABASE_URL": url}, Path("/tmp"))


def test_postgres_from_database_url() -> None:
    db = database_from_env({"DATABASE_URL": "postgres://u:secret@db:5433/app"}, Path("/tmp"))
    assert db.backend == "postgres"
    assert db.postgres_url == "postgresql://u:secret@db:5433/app"
    assert db.sqlalchemy_url == "postgresql+asyncpg://u:secret@db:5433/app"
    assert "secret" not in db.describe() and "***" in db.describe()


def test_a_pooler_with_postgresql_itself_beside_it() -> None:
    env = {"DATABASE_URL": "postgresql://u:secret@pgbouncer:6432/app", "DB_PREPARED_STATEMENTS": "false",
           "DATABASE_DIRECT_URL": "postgres://u:secret@db:5432/app"}  # fmt: skip
    db = database_from_env(env, Path("/tmp"))
    assert db.postgres_url == "postgresql://u:secret@pgbouncer:6432/app" and not db.prepared_statements
    # Sessions (LISTEN, locks) and the engine, which migrates, go to PostgreSQL itself.
    assert db.session_url == "postgresql://u:secret@db:5432/app"
    assert db.sqlalchemy_url == "postgresql+asyncpg://u:secret@db:5432/app"
    plain = database_from_env({"DATABASE_URL": "postgresql://u@db/app"}, Path("/tmp"))
    assert plain.session_url == "postgresql://u@db/app" and plain.prepared_statements


@pytest.mark.parametrize("direct", ["sqlite:///x.db", "db:5432/app"])
def test_a_direct_url_that_is_not_postgresql_is_refused(direct: str) -> None:
    env = {"DATABASE_URL": "postgresql://u@pgbouncer/app", "DATABASE_DIRECT_URL": direct}
    with pytest.raises(ConfigError, match="DATABASE_DIRECT_URL"):
        database_from_env(env, Path("/tmp"))


def test_postgres_from_postgres_variables() -> None:
    env = {"POSTGRES_USER": "me", "POSTGRES_PASSWORD": "p@ss:word", "POSTGRES_HOST": "h", "POSTGRES_DB": "d"}
    db = database_from_env(env, Path("/tmp"))
    assert db.backend == "postgres"
    assert db.postgres_url == "postgresql://me:p%40ss%3Aword@h:5432/d"


def test_redact_password_leaves_passwordless_urls_alone() -> None:
    assert redact_password("postgresql://u@h/d") == "postgresql://u@h/d"


def test_env_file_fills_in_but_the_environment_wins(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / ".env").write_text("PORT=3000\nN_JOBS_PER_WORKER=4\n")
    settings = settings_for(tmp_path, PORT="4000")
    assert settings.port == 4000 and settings.n_jobs_per_worker == 4


def test_config_env_block_is_the_weakest_source(tmp_path: Path) -> None:
    write_project(tmp_path, {"graphs": {}, "env": {"PORT": "5000", "LOG_LEVEL": "debug"}})
    settings = settings_for(tmp_path, PORT="4000")
    assert settings.port == 4000 and settings.log_level == "DEBUG"
    (tmp_path / "vars.env").write_text("N_JOBS_PER_WORKER=7\n")
    write_project(tmp_path, {"graphs": {}, "env": "vars.env"})
    assert settings_for(tmp_path).n_jobs_per_worker == 7


@pytest.mark.parametrize(
    ("name", "value"), [("PORT", "abc"), ("N_JOBS_PER_WORKER", "-1"), ("BG_JOB_TIMEOUT_SECS", "0")]
)
def test_bad_environment_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    write_project(tmp_path)
    with pytest.raises(ConfigError, match=name):
        settings_for(tmp_path, **{name: value})


def test_readme_documents_every_environment_variable() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [var.name for var in ENV_VARS if f"`{var.name}`" not in readme]
    assert not missing, f"README.md's configuration table lacks {missing}"


def test_env_example_lists_every_environment_variable() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    missing = [var.name for var in ENV_VARS if f"# {var.name}=" not in example]
    assert not missing, f".env.example lacks {missing}"


SECRET_A = "whsec_c2VjcmV0LWEtZm9yLXRoZS1jb25maWctdGVzdHM="
SECRET_B = "whsec_c2VjcmV0LWItZm9yLXRoZS1jb25maWctdGVzdHM="


def test_webhook_secrets_come_from_the_config_unless_the_environment_gives_some(tmp_path: Path) -> None:
    graphs = {"agent": "./graph.py:graph"}
    write_project(tmp_path, {"graphs": graphs, "webhooks": {"signing_secret": [SECRET_A, SECRET_B]}})
    assert settings_for(tmp_path).webhook_secrets == (SECRET_A, SECRET_B)
    assert settings_for(tmp_path, AEGRA_WEBHOOK_SECRET=f"{SECRET_B}  {SECRET_A}").webhook_secrets == (
        SECRET_B,
        SECRET_A,
    )
    write_project(tmp_path, {"graphs": graphs, "webhooks": {"signing_secret": SECRET_A}})
    assert settings_for(tmp_path).webhook_secrets == (SECRET_A,)
    write_project(tmp_path, {"graphs": graphs})
    assert settings_for(tmp_path).webhook_secrets == ()


@pytest.mark.parametrize("secret", ["whsec_", "not base64!", "whsec_secret@@@"])
def test_a_malformed_webhook_secret_stops_startup_without_showing_it(tmp_path: Path, secret: str) -> None:
    write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "webhooks": {"signing_secret": secret}})
    with pytest.raises(ConfigError, match=r"webhooks\.signing_secret") as refused:
        settings_for(tmp_path)
    assert "secret@@@" not in str(refused.value) and "base64!" not in str(refused.value)
    with pytest.raises(ConfigError, match="AEGRA_WEBHOOK_SECRET"):
        settings_for(tmp_path, AEGRA_WEBHOOK_SECRET=secret)


@pytest.mark.parametrize(
    ("webhooks", "expected"),
    [
        ({"retry_jitter": 2}, "webhooks.retry_jitter"),
        ({"retry_delays_seconds": [-1]}, "webhooks.retry_delays_seconds"),
        ({"timeout_seconds": 0}, "webhooks.timeout_seconds"),
        ({"allowed_hosts": "example.com"}, "webhooks.allowed_hosts"),
    ],
)
def test_invalid_webhook_settings_name_the_key(tmp_path: Path, webhooks: dict, expected: str) -> None:
    write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "webhooks": webhooks})
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        settings_for(tmp_path)
