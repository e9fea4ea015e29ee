"""What the maze is made of: directory names, file kinds and each server's content types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileKind:
    """A kind of file the maze lists: its possible names and a plausible size range."""

    names: tuple[str, ...]
    size_range: tuple[int, int]


DIRECTORY_NAMES: list[str] = [
    "2021", "2022", "2023", "2024", "archive", "backup", "backups", "billing", "conf", "config",
    "crm", "customers", "data", "database", "db", "deploy", "dev", "dump", "exports", "finance",
    "hr", "internal", "invoices", "keys", "logs", "migration", "old", "payroll", "private",
    "prod", "q1", "q2", "q3", "q4", "reports", "scripts", "secrets", "snapshots", "staging",
    "tmp", "users",
]  # fmt: skip

FILE_KINDS: dict[str, FileKind] = {
    "env": FileKind((".env", ".env.production", ".env.backup", "env.save"), (400, 1800)),
    "aws_credentials": FileKind(("credentials", "aws_credentials"), (110, 300)),
    "database_yml": FileKind(("database.yml", "database.yml.bak"), (180, 600)),
    "properties": FileKind(("application.properties", "application-prod.properties"), (300, 2400)),
    "php_config": FileKind(("config.php.bak", "wp-config.php.old", "settings.inc.php.save"), (900, 3900)),
    "appsettings": FileKind(("appsettings.Production.json", "appsettings.json.bak"), (300, 1500)),
    "credentials_txt": FileKind(("passwords.txt", "credentials.txt", "accounts.txt"), (90, 900)),
    "users_csv": FileKind(("users.csv", "customers_export.csv", "employees.csv"), (4000, 40000)),
    "users_json": FileKind(("users.json", "customers.json"), (9000, 90000)),
    "transactions_csv": FileKind(("transactions.csv", "payments_2023.csv", "orders.csv"), (3000, 30000)),
    "transactions_json": FileKind(("transactions.json", "payments.json"), (8000, 80000)),
    "flows_csv": FileKind(("netflow.csv", "firewall_flows.csv"), (3000, 30000)),
    "access_log": FileKind(("access.log", "access.log.1"), (5000, 50000)),
    "sql_dump": FileKind(("dump.sql", "backup.sql", "db_backup.sql"), (6000, 60000)),
    "sql_dump_gz": FileKind(("dump.sql.gz", "db_backup.sql.gz"), (2000, 20000)),
}  # fmt: skip

# Content types by extension, as each server's stock MIME map gives them (nginx's mime.types,
# Debian's /etc/mime.types plus httpd's mime.conf AddType lines); IIS refuses to serve
# extensions missing from its map (404.3), so its maze lists only mapped ones.
_TYPES: dict[str, dict[str, str]] = {
    "nginx": {"txt": "text/plain", "json": "application/json", "xml": "text/xml"},
    "apache": {
        "txt": "text/plain",
        "json": "application/json",
        "csv": "text/csv",
        "sql": "application/sql",
        "gz": "application/x-gzip",
    },
    "iis": {"txt": "text/plain", "json": "application/json", "csv": "text/csv"},
    "tomcat": {"txt": "text/plain", "json": "application/json", "csv": "text/csv"},
}
# What a name without a mapped extension gets: nginx's default_type, none at all from httpd
# (mod_mime sends no Content-Type), octet-stream from the others.
_DEFAULT_TYPE = {
    "nginx": "application/octet-stream",
    "apache": "",
    "iis": "application/octet-stream",
    "tomcat": "application/octet-stream",
}


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""


def content_type(flavor: str, name: str) -> str:
    """The Content-Type FLAVOR's stock configuration sends for a file called NAME ("" none)."""
    types = _TYPES.get(flavor, {})
    if flavor == "apache":
        # mod_mime reads every extension after the first dot; the last one with a type wins.
        found = ""
        for ext in name.rsplit("/", 1)[-1].lstrip(".").split(".")[1:]:
            found = types.get(ext.lower(), found)
        return found
    return types.get(_extension(name), _DEFAULT_TYPE.get(flavor, "text/plain"))


def kinds_for(flavor: str) -> list[str]:
    """The file kinds a FLAVOR server would serve (IIS: only mapped extensions)."""
    if flavor != "iis":
        return list(FILE_KINDS)
    mapped = _TYPES["iis"]
    kinds = []
    for kind, spec in FILE_KINDS.items():
        names = tuple(n for n in spec.names if _extension(n) in mapped)
        if names:
            kinds.append(kind)
    return kinds


def served_names(flavor: str, kind: str) -> tuple[str, ...]:
    """The names of KIND that FLAVOR serves."""
    names = FILE_KINDS[kind].names
    if flavor != "iis":
        return names
    return tuple(n for n in names if _extension(n) in _TYPES["iis"])
