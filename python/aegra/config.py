"""One settings object, built once at startup.

Sources, strongest first: the process environment, a `.env` file (`AEGRA_ENV_FILE`, else
`./.env`), the config file's `env` block, then defaults. The config file is `AEGRA_CONFIG`,
else `./aegra.json`, else `./langgraph.json`; relative paths inside it resolve against its
folder. Anything invalid raises `ConfigError` with one message that names the key and file.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import msgspec
from dotenv import dotenv_values

from aegra.config_schema import IGNORED_LANGGRAPH_KEYS, AegraConfig, GraphSpec, unknown_keys

logger = logging.getLogger(__name__)

CONFIG_FILE_NAMES = ("aegra.json", "langgraph.json")
EMBED_PROVIDERS = ("fastembed", "openai")


class ConfigError(Exception):
    """Invalid configuration; the message is meant for the user as it is."""


class EnvVar(msgspec.Struct, frozen=True):
    name: str
    default: str | None
    help: str


# Every environment variable Aegra reads. README.md's configuration table lists the same
# set (a unit test keeps them in step).
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("AEGRA_CONFIG", None, "Config file; else ./aegra.json, else ./langgraph.json"),
    EnvVar("AEGRA_ENV_FILE", "./.env", "The .env file to read (values already in the environment win)"),
    EnvVar("DATABASE_URL", "sqlite:///./aegra.db", "`sqlite:///rel.db`, `sqlite:////abs.db` or `postgresql://...`"),
    EnvVar("POSTGRES_USER", "postgres", "PostgreSQL user, when DATABASE_URL is unset and any POSTGRES_* is set"),
    EnvVar("POSTGRES_PASSWORD", "", "PostgreSQL password"),
    EnvVar("POSTGRES_HOST", "localhost", "PostgreSQL host"),
    EnvVar("POSTGRES_PORT", "5432", "PostgreSQL port"),
    EnvVar("POSTGRES_DB", "aegra", "PostgreSQL database"),
    EnvVar(
        "DATABASE_DIRECT_URL",
        None,
        "PostgreSQL itself, when DATABASE_URL is a pooler (PgBouncer): LISTEN, migrations and setup locks go here",
    ),
    EnvVar(
        "DB_PREPARED_STATEMENTS",
        "true",
        "`false` behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21)",
    ),
    EnvVar("DB_POOL_SIZE", "10", "PostgreSQL connection pool size per worker"),
    EnvVar("DB_MAX_OVERFLOW", "10", "Extra PostgreSQL connections allowed above the pool size"),
    EnvVar("SQLITE_BUSY_TIMEOUT_MS", "30000", "How long a SQLite writer waits for the lock"),
    EnvVar("RUN_MIGRATIONS_ON_STARTUP", "true", "Apply Alembic migrations at startup (PostgreSQL)"),
    EnvVar("HOST", "127.0.0.1", "Bind address for `aegra dev` (`aegra serve` defaults to 0.0.0.0)"),
    EnvVar("PORT", "2026", "Port for `aegra dev` and `aegra serve`"),
    EnvVar("LOG_LEVEL", "INFO", "Python log level"),
    EnvVar("LOG_FORMAT", "console", "`console` (readable lines) or `json` (one JSON object a line, with the ids)"),
    EnvVar(
        "ACCESS_LOG",
        "true",
        "One log line per HTTP request (method, path, status, duration, size); "
        "`aegra serve` and `aegra worker` default to `false`",
    ),
    EnvVar("N_JOBS_PER_WORKER", "10", "Runs executed at once per worker process"),
    EnvVar("BG_JOB_TIMEOUT_SECS", "3600", "A run still going after this many seconds ends as `timeout`"),
    EnvVar("KEEPALIVE_INTERVAL_SECS", "5", "SSE heartbeat and wait keep-alive interval"),
    EnvVar("MAX_SEARCH_LIMIT", "1000", "Largest `limit` a search accepts"),
    EnvVar("CRON_SCHEDULER_SLEEP_TIME", "5", "Seconds between two looks for crons that are due"),
    EnvVar(
        "AEGRA_ROLE",
        "all",
        "`all` serves HTTP and executes runs; `api` (`serve --no-execute`) HTTP only; "
        "`worker` (`aegra worker`) executes runs and answers `/ok` and `/metrics` only",
    ),
    EnvVar(
        "RUN_LEASE_SECONDS",
        "30",
        "PostgreSQL: a running run whose process stops renewing its lease this long is taken over by another process",
    ),
    EnvVar(
        "SHUTDOWN_GRACE_SECONDS",
        "20",
        "PostgreSQL: on SIGTERM, how long runs may finish before they are handed to another process",
    ),
    EnvVar("AEGRA_VEC", "rust", "`python` forces the pure-Python vector core"),
    EnvVar("AEGRA_PIN_CPU", "false", "Keep each worker's threads on one CPU core (Linux; see server/cpu_affinity.py)"),
    EnvVar(
        "AEGRA_WEBHOOK_SECRET",
        None,
        "Webhook signing secrets (`whsec_...`, several separated by spaces); overrides `webhooks.signing_secret`",
    ),
)
_DEFAULTS = {var.name: var.default for var in ENV_VARS}


class DatabaseSettings(msgspec.Struct, frozen=True):
    backend: Literal["sqlite", "postgres"]
    sqlite_path: Path | None = None
    postgres_url: str | None = None  # plain `postgresql://` (psycopg / libpq form)
    # PostgreSQL itself when `postgres_url` is a pooler in transaction mode, for what needs a
    # session of its own: LISTEN, migrations, session advisory locks (None: `postgres_url`).
    direct_url: str | None = None
    prepared_statements: bool = True  # off behind a pooler that cannot keep them
    pool_size: int = 10
    max_overflow: int = 10
    busy_timeout_ms: int = 30000
    run_migrations: bool = True

    @property
    def sqlalchemy_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        # The engine migrates and serves the CLI's commands: PostgreSQL itself, past any pooler.
        return "postgresql+asyncpg://" + self.session_url.split("://", 1)[1]

    @property
    def session_url(self) -> str:
        """Where a connection keeps its session (LISTEN, session locks, migrations)."""
        url = self.direct_url or self.postgres_url
        assert url is not None
        return url

    def describe(self) -> str:
        """Where the data lives, with any password hidden: safe for logs and error messages."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        assert self.postgres_url is not None
        return redact_password(self.postgres_url)


# What a server process does: everything, HTTP only (runs are executed elsewhere), or runs only.
Role = Literal["all", "api", "worker"]
ROLES: tuple[Role, ...] = ("all", "api", "worker")


class Settings(msgspec.Struct, frozen=True):
    config: AegraConfig
    config_path: Path
    database: DatabaseSettings
    host: str
    port: int
    log_level: str
    n_jobs_per_worker: int
    bg_job_timeout_secs: float
    keepalive_interval_secs: float
    max_search_limit: int
    cron_scheduler_sleep_time: float = 5.0
    pin_cpu: bool = False
    role: Role = "all"
    run_lease_seconds: float = 30.0
    shutdown_grace_seconds: float = 20.0
    # What signs webhooks: AEGRA_WEBHOOK_SECRET, else `webhooks.signing_secret` (docs/webhooks.md).
    webhook_secrets: tuple[str, ...] = ()
    log_format: Literal["console", "json"] = "console"
    access_log: bool = True

    @property
    def base_dir(self) -> Path:
        """The config file's folder: relative paths in the config resolve against it."""
        return self.config_path.parent

    def resolve(self, path: str) -> Path:
        return (self.base_dir / path).resolve()


def redact_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def find_config_file(environ: Mapping[str, str], cwd: Path) -> Path:
    explicit = environ.get("AEGRA_CONFIG")
    if explicit:
        path = (cwd / explicit).resolve()
        if not path.is_file():
            raise ConfigError(f"AEGRA_CONFIG points to {path}, which does not exist")
        return path
    for name in CONFIG_FILE_NAMES:
        if (cwd / name).is_file():
            return (cwd / name).resolve()
    raise ConfigError(
        f"no config file: found neither aegra.json nor langgraph.json in {cwd} (set AEGRA_CONFIG, or run `aegra init`)"
    )


def read_config_file(path: Path) -> AegraConfig:
    """Parse and validate one config file; warn about keys Aegra ignores."""
    try:
        raw = msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: malformed JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a JSON object, got {type(raw).__name__}")
    try:
        config = msgspec.convert(raw, AegraConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_explain(exc)}") from None
    for key in unknown_keys(raw, AegraConfig):
        why = "a LangGraph build option" if key in IGNORED_LANGGRAPH_KEYS else "not a key Aegra knows"
        logger.warning("%s: ignoring `%s` (%s)", path, key, why)
    _check_graphs(config, path)
    _check_embed(config, path)
    return config


def _explain(exc: msgspec.ValidationError) -> str:
    """`Expected int, got str - at $.store.index.dims` -> `store.index.dims: expected int, got str`."""
    message, _, where = str(exc).partition(" - at `$")
    key = where.rstrip("`").lstrip(".") or "(top level)"
    return f"`{key}`: {message[0].lower()}{message[1:]}"


def _check_graphs(config: AegraConfig, path: Path) -> None:
    for graph_id, spec in config.graph_specs().items():
        _check_graph_spec(graph_id, spec, path)


def _check_graph_spec(graph_id: str, spec: GraphSpec, path: Path) -> None:
    key = f"graphs.{graph_id}"
    target, sep, attr = spec.path.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"{path}: `{key}` must look like './file.py:attr' or 'pkg.module:attr', got {spec.path!r}")
    if target.endswith(".py") or "/" in target:
        file = (path.parent / target).resolve()
        if not file.is_file():
            raise ConfigError(f"{path}: `{key}` points to {file}, which does not exist")


def _check_embed(config: AegraConfig, path: Path) -> None:
    index = config.store.index if config.store else None
    if index is None:
        return
    provider, sep, model = index.embed.partition(":")
    looks_like_function = provider.endswith(".py") or "/" in provider or "." in provider
    if not sep or not model:
        raise ConfigError(
            f"{path}: `store.index.embed` must be 'provider:model' or './file.py:function', got {index.embed!r}"
        )
    if looks_like_function:
        if provider.endswith(".py") and not (path.parent / provider).is_file():
            raise ConfigError(
                f"{path}: `store.index.embed` points to {(path.parent / provider).resolve()}, which does not exist"
            )
        return
    if provider not in EMBED_PROVIDERS:
        raise ConfigError(
            f"{path}: `store.index.embed` uses the unsupported provider {provider!r} "
            f"(supported: {', '.join(EMBED_PROVIDERS)}, or './file.py:function')"
        )


def webhook_secrets(env: Mapping[str, str], config: AegraConfig, config_path: Path) -> tuple[str, ...]:
    """The webhook signing secrets, first the one to sign with first; each must be a Standard
    Webhooks secret (`whsec_` and base64, or base64 alone), checked here so a typo stops startup."""
    raw = env.get("AEGRA_WEBHOOK_SECRET", "").strip()
    where = "AEGRA_WEBHOOK_SECRET"
    if raw:
        secrets = tuple(raw.replace(",", " ").split())
    else:
        given = config.webhooks.signing_secret if config.webhooks else None
        secrets = tuple([given] if isinstance(given, str) else given or ())
        where = f"{config_path}: `webhooks.signing_secret`"
    for secret in secrets:
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            key = b""
        if not key:
            raise ConfigError(f"{where}: a secret must be 'whsec_' followed by base64 (e.g. {example_secret()})")
    return secrets


def example_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def database_from_env(env: Mapping[str, str], cwd: Path) -> DatabaseSettings:
    """SQLite unless DATABASE_URL or a POSTGRES_* variable points at PostgreSQL."""
    common: dict[str, Any] = {
        "pool_size": _int(env, "DB_POOL_SIZE"),
        "max_overflow": _int(env, "DB_MAX_OVERFLOW"),
        "busy_timeout_ms": _int(env, "SQLITE_BUSY_TIMEOUT_MS"),
        "run_migrations": _bool(env, "RUN_MIGRATIONS_ON_STARTUP"),
    }
    url = env.get("DATABASE_URL", "").strip()
    if not url and any(env.get(f"POSTGRES_{part}") for part in ("USER", "PASSWORD", "HOST", "PORT", "DB")):
        user = quote(_get(env, "POSTGRES_USER"), safe="")
        password = quote(_get(env, "POSTGRES_PASSWORD"), safe="")
        auth = f"{user}:{password}" if password else user
        host, port, db = (_get(env, f"POSTGRES_{part}") for part in ("HOST", "PORT", "DB"))
        url = f"postgresql://{auth}@{host}:{port}/{db}"
    if not url:
        url = _get(env, "DATABASE_URL")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(f"DATABASE_URL must be a URL like sqlite:///./aegra.db or postgresql://..., got {url!r}")
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return DatabaseSettings(backend="sqlite", sqlite_path=_sqlite_path(rest, cwd), **common)
    postgres_url = _as_postgres_url(url)
    if postgres_url is not None:
        direct = env.get("DATABASE_DIRECT_URL", "").strip() or None
        direct_url = _as_postgres_url(direct) if direct else None
        if direct and direct_url is None:
            raise ConfigError(f"DATABASE_DIRECT_URL must be a postgresql:// URL, got {redact_password(direct)!r}")
        return DatabaseSettings(backend="postgres", postgres_url=postgres_url, direct_url=direct_url,
                                prepared_statements=_bool(env, "DB_PREPARED_STATEMENTS"), **common)  # fmt: skip
    raise ConfigError(f"DATABASE_URL: unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)")


POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg")


def _as_postgres_url(url: str) -> str | None:
    """The URL as `postgresql://...` (what both drivers take) if its scheme is one of
    PostgreSQL's, else None."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.lower() in POSTGRES_SCHEMES else None


def _sqlite_path(rest: str, cwd: Path) -> Path:
    # `sqlite:///./x.db` leaves "/./x.db" (relative); `sqlite:////abs/x.db` leaves "//abs/x.db".
    if not rest.startswith("/") or rest in ("/", "/:memory:") or rest.startswith("/:memory:"):
        raise ConfigError(
            "DATABASE_URL: SQLite needs a file, as sqlite:///./aegra.db (relative) or sqlite:////abs/aegra.db; "
            f"got sqlite://{rest}"
        )
    raw = rest[1:].split("?", 1)[0]
    path = Path(raw)
    return path if path.is_absolute() else (cwd / path).resolve()


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build the settings from scratch. Servers call `get_settings()`, which caches this."""
    cwd = cwd or Path.cwd()
    env, config_path, config = _layered(dict(os.environ if environ is None else environ), cwd)
    settings = Settings(
        config=config,
        config_path=config_path,
        database=database_from_env(env, cwd),
        host=_get(env, "HOST"),
        port=_int(env, "PORT"),
        log_level=_get(env, "LOG_LEVEL").upper(),
        log_format=_log_format(env),
        access_log=_bool(env, "ACCESS_LOG"),
        n_jobs_per_worker=_int(env, "N_JOBS_PER_WORKER"),
        bg_job_timeout_secs=_float(env, "BG_JOB_TIMEOUT_SECS"),
        keepalive_interval_secs=_float(env, "KEEPALIVE_INTERVAL_SECS"),
        max_search_limit=_int(env, "MAX_SEARCH_LIMIT"),
        cron_scheduler_sleep_time=_float(env, "CRON_SCHEDULER_SLEEP_TIME"),
        pin_cpu=_bool(env, "AEGRA_PIN_CPU"),
        role=_role(env),
        run_lease_seconds=_float(env, "RUN_LEASE_SECONDS"),
        shutdown_grace_seconds=_float(env, "SHUTDOWN_GRACE_SECONDS"),
        webhook_secrets=webhook_secrets(env, config, config_path),
    )
    if settings.role != "all" and settings.database.backend == "sqlite":
        raise ConfigError(
            f"AEGRA_ROLE={settings.role} needs PostgreSQL: one process owns a SQLite file and both serves and "
            "executes its runs"
        )
    if environ is None:
        # Graphs and libraries read os.environ; give them what .env and `env` provided.
        _merge_missing(os.environ, env)
    return settings


@cache
def get_settings() -> Settings:
    return load_settings()


def _layered(env: dict[str, str], cwd: Path) -> tuple[dict[str, str], Path, AegraConfig]:
    """`env` with what the .env file and then the config's `env` add (neither overrides), the
    config file's path and the config."""
    env_file = (cwd / env.get("AEGRA_ENV_FILE", ".env")).resolve()
    if env_file.is_file():
        _merge_missing(env, dotenv_values(env_file))
    elif "AEGRA_ENV_FILE" in env:
        raise ConfigError(f"AEGRA_ENV_FILE points to {env_file}, which does not exist")
    config_path = find_config_file(env, cwd)
    config = read_config_file(config_path)
    _merge_missing(env, _config_env(config, config_path))
    return env, config_path, config


def is_given(name: str, environ: Mapping[str, str], cwd: Path | None = None) -> bool:
    """Whether the environment, the .env file or the config's `env` sets `name` (rather than its
    default leaving it to the command: `ACCESS_LOG`, see cli/main.py)."""
    env, _, _ = _layered(dict(environ), cwd or Path.cwd())
    return bool(env.get(name))


def _config_env(config: AegraConfig, config_path: Path) -> dict[str, str | None]:
    if config.env is None:
        return {}
    if isinstance(config.env, dict):
        return dict(config.env)
    env_path = (config_path.parent / config.env).resolve()
    if not env_path.is_file():
        raise ConfigError(f"{config_path}: `env` points to {env_path}, which does not exist")
    return dotenv_values(env_path)


def _merge_missing(target: dict[str, str] | os._Environ[str], extra: Mapping[str, str | None]) -> None:
    for key, value in extra.items():
        if value is not None and key not in target:
            target[key] = value


def _get(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or value == "":
        default = _DEFAULTS[name]
        return "" if default is None else default
    return value


def _role(env: Mapping[str, str]) -> Role:
    role = _get(env, "AEGRA_ROLE").lower()
    if role not in ROLES:
        raise ConfigError(f"AEGRA_ROLE must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _int(env: Mapping[str, str], name: str) -> int:
    raw = _get(env, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def _float(env: Mapping[str, str], name: str) -> float:
    raw = _get(env, name)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _log_format(env: Mapping[str, str]) -> Literal["console", "json"]:
    value = _get(env, "LOG_FORMAT").lower()
    if value not in ("console", "json"):
        raise ConfigError(f"LOG_FORMAT must be console or json, got {value!r}")
    return value  # type: ignore[return-value]


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = _get(env, name).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
