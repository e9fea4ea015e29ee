"""The fake files of the maze and the bait paths: configs with honeytokens, data exports.

Each file kind says which honeytoken kinds it shows (``TOKENS``) and how it is written; the
values come in as a mapping (planted, unique to the session that sees the file). Everything
else on the page (host names, user names, dates) derives from the page's seeded RNG, so a
revisit sees the same file around the same tokens.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

Tokens = Mapping[str, str]
Records = Sequence[Mapping[str, Any]]

_HOSTS = ("db01", "db-primary", "pg-main", "mysql-prod", "sql02", "rds-core")
_DOMAINS = ("internal", "corp.local", "prod.lan", "svc.cluster.local")
_APPS = ("billing", "portal", "crm", "payments", "intranet", "reporting")
_USERS = ("app", "svc_app", "deploy", "backup", "admin", "report_ro")


def _host(rng: random.Random) -> str:
    return f"{rng.choice(_HOSTS)}.{rng.choice(_DOMAINS)}"


def _env(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    return (
        f"APP_NAME={app}\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_URL=https://{app}.example.com\n\n"
        f"DB_CONNECTION=pgsql\nDB_HOST={_host(rng)}\nDB_PORT=5432\nDB_DATABASE={app}\n"
        f"DB_USERNAME={rng.choice(_USERS)}\nDB_PASSWORD={t.get('password', '')}\n\n"
        f"REDIS_HOST=redis.{rng.choice(_DOMAINS)}\nREDIS_PORT=6379\n\n"
        f"AWS_ACCESS_KEY_ID={t.get('cloud_key', '')}\n"
        f"AWS_SECRET_ACCESS_KEY={t.get('cloud_secret', '')}\nAWS_DEFAULT_REGION=eu-west-1\n"
        f"AWS_BUCKET={app}-uploads\n\n"
        f"SHIELDX_API_KEY={t.get('api_key', '')}\n"
        f"SHIELDX_ACCESS_TOKEN={t.get('jwt', '')}\n"
    )


def _git_config(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    return (
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        "\tlogallrefupdates = true\n"
        f'[remote "origin"]\n\turl = https://{rng.choice(_USERS)}:{t.get("password", "")}'
        f"@git.{rng.choice(_DOMAINS)}/ops/{app}.git\n"
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
        '[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n'
    )


def _aws_credentials(rng: random.Random, t: Tokens) -> str:
    return (
        f"[default]\naws_access_key_id = {t.get('cloud_key', '')}\n"
        f"aws_secret_access_key = {t.get('cloud_secret', '')}\n"
        f"region = {rng.choice(('us-east-1', 'eu-west-1', 'eu-central-1'))}\n"
    )


def _database_yml(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    return (
        "production:\n  adapter: postgresql\n  encoding: unicode\n"
        f"  database: {app}_production\n  pool: 25\n  host: {_host(rng)}\n"
        f'  username: {rng.choice(_USERS)}\n  password: "{t.get("password", "")}"\n'
    )


def _properties(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    return (
        f"spring.application.name={app}\nserver.port=8080\n"
        f"spring.datasource.url=jdbc:postgresql://{_host(rng)}:5432/{app}\n"
        f"spring.datasource.username={rng.choice(_USERS)}\n"
        f"spring.datasource.password={t.get('password', '')}\n"
        f"shieldx.api.key={t.get('api_key', '')}\n"
        f"shieldx.service.token={t.get('jwt', '')}\n"
    )


def _php_config(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    return (
        "<?php\n/** Database settings */\n"
        f"define( 'DB_NAME', '{app}' );\ndefine( 'DB_USER', '{rng.choice(_USERS)}' );\n"
        f"define( 'DB_PASSWORD', '{t.get('password', '')}' );\n"
        f"define( 'DB_HOST', '{_host(rng)}' );\ndefine( 'DB_CHARSET', 'utf8mb4' );\n"
        f"define( 'SHIELDX_API_KEY', '{t.get('api_key', '')}' );\n"
        "$table_prefix = 'wp_';\n"
    )


def _appsettings(rng: random.Random, t: Tokens) -> str:
    app = rng.choice(_APPS)
    conn = (
        f"Server={_host(rng)};Database={app};User Id={rng.choice(_USERS)};"
        f"Password={t.get('password', '')};"
    )
    doc = {
        "ConnectionStrings": {"DefaultConnection": conn},
        "ShieldX": {"ApiKey": t.get("api_key", ""), "AccessToken": t.get("jwt", "")},
        "Logging": {"LogLevel": {"Default": "Warning"}},
        "AllowedHosts": "*",
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _credentials_txt(rng: random.Random, t: Tokens) -> str:
    return (
        f"# {rng.choice(_APPS)} service accounts - do not share\n"
        f"db: {rng.choice(_USERS)} / {t.get('password', '')}\n"
        f"aws: {t.get('cloud_key', '')} / {t.get('cloud_secret', '')}\n"
        f"api: {t.get('api_key', '')}\n"
    )


CONFIG_WRITERS: dict[str, Callable[[random.Random, Tokens], str]] = {
    "env": _env,
    "git_config": _git_config,
    "aws_credentials": _aws_credentials,
    "database_yml": _database_yml,
    "properties": _properties,
    "php_config": _php_config,
    "appsettings": _appsettings,
    "credentials_txt": _credentials_txt,
}

#: The honeytoken kinds each config file shows ("cloud_key" brings its secret with it).
TOKENS: dict[str, tuple[str, ...]] = {
    "env": ("password", "cloud_key", "api_key", "jwt"),
    "git_config": ("password",),
    "aws_credentials": ("cloud_key",),
    "database_yml": ("password",),
    "properties": ("password", "api_key", "jwt"),
    "php_config": ("password", "api_key"),
    "appsettings": ("password", "api_key", "jwt"),
    "credentials_txt": ("password", "cloud_key", "api_key"),
}

#: Data files: (synthetic kind, format).
DATA_FILES: dict[str, tuple[str, str]] = {
    "users_csv": ("users", "csv"),
    "users_json": ("users", "json"),
    "transactions_csv": ("transactions", "csv"),
    "transactions_json": ("transactions", "json"),
    "flows_csv": ("traffic", "csv"),
    "access_log": ("traffic", "log"),
    "sql_dump": ("users", "sql"),
    "sql_dump_gz": ("users", "sql.gz"),
}


def config_file(kind: str, rng: random.Random, tokens: Tokens) -> bytes:
    """A config file of KIND around TOKENS."""
    return CONFIG_WRITERS[kind](rng, tokens).encode("utf-8")


def _csv(records: Records) -> str:
    buffer = io.StringIO()
    if records:
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return buffer.getvalue()


def _access_log(records: Records) -> str:
    lines = []
    for r in records:
        method = "GET" if int(r["bytes"]) % 5 else "POST"
        lines.append(
            f'{r["src_ip"]} - - [{r["timestamp"]}] "{method} /api/v1/items HTTP/1.1" 200 '
            f'{r["bytes"]} "-" "Mozilla/5.0"'
        )
    return "\n".join(lines) + "\n"


def _sql(records: Records) -> str:
    lines = [
        "-- PostgreSQL database dump\n",
        "CREATE TABLE public.users (id integer, username text, email text, full_name text, "
        "role text, created_at timestamptz);\n",
    ]
    for r in records:
        name = str(r["full_name"]).replace("'", "''")
        lines.append(
            # A fake dump's text, never executed anywhere.
            f"INSERT INTO public.users VALUES ({r['user_id']}, '{r['username']}', "  # noqa: S608
            f"'{r['email']}', '{name}', '{r['role']}', '{r['created_at']}');\n"
        )
    return "".join(lines)


def data_file(kind: str, records: Records) -> bytes:
    """A data export of KIND made of synthetic RECORDS."""
    _, fmt = DATA_FILES[kind]
    if fmt == "csv":
        return _csv(records).encode()
    if fmt == "json":
        return orjson.dumps(list(records), option=orjson.OPT_INDENT_2) + b"\n"
    if fmt == "log":
        return _access_log(records).encode()
    text = _sql(records).encode()
    # mtime=0: the same page always has the same bytes.
    return gzip.compress(text, mtime=0) if fmt == "sql.gz" else text
