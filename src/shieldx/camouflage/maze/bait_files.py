"""The fake files of the maze and the bait paths: configs with honeytokens, data exports.

Each file kind says which honeytoken kinds it shows (``TOKENS``) and how it is written, in the
formats real stacks use (Laravel, Node and Django .env files, git config, AWS credentials,
Rails database.yml, Spring properties, wp-config.php, ASP.NET appsettings.json). The token
values come in as a mapping; everything else (organisation, hosts, user names, other secrets)
derives from the page's seeded RNG and the decoy's Identity, so the same URL is always the
same bytes.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

Tokens = Mapping[str, str]
Records = Sequence[Mapping[str, Any]]

_WORDS = (
    "harbor",
    "lumen",
    "cobalt",
    "granite",
    "vertex",
    "meridian",
    "summit",
    "quarry",
    "beacon",
    "atlas",
    "juniper",
    "kestrel",
    "tidewater",
    "ironwood",
    "bluepeak",
    "nordic",
)
_TRADES = ("labs", "logistics", "health", "retail", "media", "systems", "finance", "energy")
_TLDS = ("com", "io", "net", "de", "co.uk", "eu")
_APPS = ("billing", "portal", "crm", "shop", "intranet", "reporting", "api", "dashboard")
_DB_HOSTS = ("db01", "db-primary", "pg-main", "mysql-prod", "sql02", "postgres-1")
_USERS = ("app", "app_user", "deploy", "webapp", "api", "report_ro")
_REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "us-west-2")
_DJANGO_SECRET = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"  # noqa: S105 (an alphabet)


@dataclass(frozen=True)
class Identity:
    """The fictitious organisation one decoy's files belong to (stable per decoy)."""

    company: str
    domain: str
    app: str

    @property
    def app_host(self) -> str:
        """The application's public host name."""
        return f"{self.app}.{self.domain}"

    @classmethod
    def from_rng(cls, rng: random.Random) -> Identity:
        """A plausible organisation: two words, a trade and a TLD."""
        word = rng.choice(_WORDS)
        trade = rng.choice(_TRADES)
        return cls(f"{word}-{trade}", f"{word}{trade}.{rng.choice(_TLDS)}", rng.choice(_APPS))


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _db_host(rng: random.Random, who: Identity) -> str:
    return f"{rng.choice(_DB_HOSTS)}.internal.{who.domain}"


def _laravel_env(rng: random.Random, t: Tokens, who: Identity) -> str:
    app_key = base64.b64encode(rng.randbytes(32)).decode()
    mail = _chars(rng, string.ascii_letters + string.digits, 20)
    return (
        f"APP_NAME={who.app.capitalize()}\nAPP_ENV=production\nAPP_KEY=base64:{app_key}\n"
        f"APP_DEBUG=false\nAPP_URL=https://{who.app_host}\n\n"
        "LOG_CHANNEL=stack\nLOG_DEPRECATIONS_CHANNEL=null\nLOG_LEVEL=error\n\n"
        f"DB_CONNECTION=mysql\nDB_HOST={_db_host(rng, who)}\nDB_PORT=3306\n"
        f"DB_DATABASE={who.app}\nDB_USERNAME={rng.choice(_USERS)}\n"
        f"DB_PASSWORD={t.get('password', '')}\n\n"
        "BROADCAST_DRIVER=log\nCACHE_DRIVER=redis\nFILESYSTEM_DISK=s3\nQUEUE_CONNECTION=redis\n"
        "SESSION_DRIVER=redis\nSESSION_LIFETIME=120\n\n"
        f"REDIS_HOST=redis.internal.{who.domain}\nREDIS_PASSWORD=null\nREDIS_PORT=6379\n\n"
        f"MAIL_MAILER=smtp\nMAIL_HOST=smtp.mailgun.org\nMAIL_PORT=587\n"
        f"MAIL_USERNAME=postmaster@mg.{who.domain}\nMAIL_PASSWORD={mail}\n"
        f'MAIL_ENCRYPTION=tls\nMAIL_FROM_ADDRESS="noreply@{who.domain}"\n'
        'MAIL_FROM_NAME="${APP_NAME}"\n\n'
        f"AWS_ACCESS_KEY_ID={t.get('cloud_key', '')}\n"
        f"AWS_SECRET_ACCESS_KEY={t.get('cloud_secret', '')}\n"
        f"AWS_DEFAULT_REGION={rng.choice(_REGIONS)}\nAWS_BUCKET={who.company}-{who.app}\n"
        "AWS_USE_PATH_STYLE_ENDPOINT=false\n\n"
        f"STRIPE_KEY=pk_live_{_chars(rng, string.ascii_letters + string.digits, 24)}\n"
        f"STRIPE_SECRET={t.get('api_key', '')}\n\n"
        f"JWT_TOKEN={t.get('jwt', '')}\n"
    )


def _node_env(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        f"NODE_ENV=production\nPORT={rng.choice(('3000', '8080', '5000'))}\n"
        f"BASE_URL=https://{who.app_host}\n\n"
        f"DATABASE_URL=postgres://{rng.choice(_USERS)}:{t.get('password', '')}"
        f"@{_db_host(rng, who)}:5432/{who.app}\n"
        f"REDIS_URL=redis://redis.internal.{who.domain}:6379/0\n\n"
        f"JWT_SECRET={_chars(rng, string.ascii_letters + string.digits, 48)}\n"
        f"SERVICE_TOKEN={t.get('jwt', '')}\n\n"
        f"STRIPE_SECRET_KEY={t.get('api_key', '')}\n"
        f"STRIPE_WEBHOOK_SECRET=whsec_{_chars(rng, string.ascii_letters + string.digits, 32)}\n\n"
        f"AWS_ACCESS_KEY_ID={t.get('cloud_key', '')}\n"
        f"AWS_SECRET_ACCESS_KEY={t.get('cloud_secret', '')}\n"
        f"AWS_REGION={rng.choice(_REGIONS)}\nS3_BUCKET={who.company}-uploads\n\n"
        f"SENTRY_DSN=https://{rng.randbytes(16).hex()}@o{rng.randint(100000, 999999)}"
        f".ingest.sentry.io/{rng.randint(1000000, 9999999)}\n"
    )


def _django_env(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        f"DEBUG=False\nSECRET_KEY={_chars(rng, _DJANGO_SECRET, 50)}\n"
        f"ALLOWED_HOSTS={who.app_host},www.{who.domain}\n"
        f"DATABASE_URL=postgres://{rng.choice(_USERS)}:{t.get('password', '')}"
        f"@{_db_host(rng, who)}:5432/{who.app}\n"
        f"CELERY_BROKER_URL=redis://redis.internal.{who.domain}:6379/1\n"
        f"AWS_ACCESS_KEY_ID={t.get('cloud_key', '')}\n"
        f"AWS_SECRET_ACCESS_KEY={t.get('cloud_secret', '')}\n"
        f"AWS_STORAGE_BUCKET_NAME={who.company}-static\n"
        f"AWS_S3_REGION_NAME={rng.choice(_REGIONS)}\n"
        f"STRIPE_SECRET_KEY={t.get('api_key', '')}\n"
        f"API_TOKEN={t.get('jwt', '')}\n"
        f"EMAIL_HOST=smtp.sendgrid.net\nEMAIL_HOST_USER=apikey\n"
        f"EMAIL_HOST_PASSWORD=SG.{_chars(rng, string.ascii_letters + string.digits + '-_', 22)}"
        f".{_chars(rng, string.ascii_letters + string.digits + '-_', 43)}\n"
    )


def _env(rng: random.Random, t: Tokens, who: Identity) -> str:
    return rng.choice((_laravel_env, _node_env, _django_env))(rng, t, who)


def _git_config(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        "\tlogallrefupdates = true\n"
        f'[remote "origin"]\n\turl = https://{rng.choice(("deploy", "gitlab-ci", "build"))}:'
        f"{t.get('password', '')}@git.{who.domain}/{who.company}/{who.app}.git\n"
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
        '[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n'
    )


def _aws_credentials(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        f"[default]\naws_access_key_id = {t.get('cloud_key', '')}\n"
        f"aws_secret_access_key = {t.get('cloud_secret', '')}\n"
    )


def _database_yml(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        "default: &default\n  adapter: postgresql\n  encoding: unicode\n"
        '  pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>\n\n'
        f"production:\n  <<: *default\n  database: {who.app}_production\n"
        f"  host: {_db_host(rng, who)}\n"
        f'  username: {rng.choice(_USERS)}\n  password: "{t.get("password", "")}"\n'
    )


def _properties(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        f"spring.application.name={who.app}\nserver.port=8080\n"
        f"spring.datasource.url=jdbc:postgresql://{_db_host(rng, who)}:5432/{who.app}\n"
        f"spring.datasource.username={rng.choice(_USERS)}\n"
        f"spring.datasource.password={t.get('password', '')}\n"
        "spring.jpa.hibernate.ddl-auto=validate\n"
        f"stripe.api.secret-key={t.get('api_key', '')}\n"
        f"app.integration.token={t.get('jwt', '')}\n"
    )


def _php_config(rng: random.Random, t: Tokens, who: Identity) -> str:
    salts = "".join(
        f"define( '{name}', '{_chars(rng, string.ascii_letters + string.digits + '!@#$%^&*()-_[]{{}}<>~+=,.;:/?|', 64)}' );\n"
        for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY")
    )
    return (
        "<?php\n/** The name of the database for WordPress */\n"
        f"define( 'DB_NAME', '{who.app}' );\ndefine( 'DB_USER', '{rng.choice(_USERS)}' );\n"
        f"define( 'DB_PASSWORD', '{t.get('password', '')}' );\n"
        f"define( 'DB_HOST', '{_db_host(rng, who)}' );\ndefine( 'DB_CHARSET', 'utf8mb4' );\n"
        "define( 'DB_COLLATE', '' );\n\n"
        f"{salts}\n"
        f"define( 'WP_STRIPE_SECRET_KEY', '{t.get('api_key', '')}' );\n"
        "$table_prefix = 'wp_';\n"
    )


def _appsettings(rng: random.Random, t: Tokens, who: Identity) -> str:
    conn = (
        f"Server={_db_host(rng, who)};Database={who.app};User Id={rng.choice(_USERS)};"
        f"Password={t.get('password', '')};"
    )
    doc = {
        "ConnectionStrings": {"DefaultConnection": conn},
        "Stripe": {"SecretKey": t.get("api_key", "")},
        "Jwt": {"Issuer": f"https://{who.app_host}", "ServiceToken": t.get("jwt", "")},
        "Logging": {"LogLevel": {"Default": "Warning"}},
        "AllowedHosts": "*",
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _credentials_txt(rng: random.Random, t: Tokens, who: Identity) -> str:
    return (
        f"# {who.app} service accounts - do not share\n"
        f"db: {rng.choice(_USERS)} / {t.get('password', '')}\n"
        f"aws: {t.get('cloud_key', '')} / {t.get('cloud_secret', '')}\n"
        f"stripe: {t.get('api_key', '')}\n"
    )


CONFIG_WRITERS: dict[str, Callable[[random.Random, Tokens, Identity], str]] = {
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


def config_file(kind: str, rng: random.Random, tokens: Tokens, who: Identity) -> bytes:
    """A config file of KIND around TOKENS, belonging to WHO."""
    return CONFIG_WRITERS[kind](rng, tokens, who).encode("utf-8")


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
