"""Documentation that runs: every example in README.md and docs/*.md, against one live platform.

Conventions for fenced blocks (docs/architecture.md, "Documentation that runs"):

- ```sh (or bash) blocks run in bash, in order, one shell state per document (variables set in
  one block are there in the next; each document has its own working directory). The harness
  sets KEY and ADMIN_KEY (an unscoped admin key) and K (an operator key of tenant acme), and rewrites localhost:5004/5005/8089/8080 to the live platform's ports.
  `shieldx` runs this checkout's CLI on the live platform's data directory.
- Every curl's HTTP status is recorded. A comment right under a command documents the answer of
  the last curl above it: `# 201 {"balance": 1000}` (status and body), `# 200` (status), or
  `# {...}` (body). More comment lines indented under it continue it; several documented answers
  mean "one of these". A ```json block right after a ```sh block documents the body of that
  block's last curl. A curl with nothing documented must answer below 400.
- Bodies are compared on the fields the document shows (a subset match, recursively). `"…"` (or
  `"..."`) stands for any value, `"tx_…"` for any string of that shape, a trailing `, …` in a
  list or object for "and more"; a body that is not JSON is compared line by line.
- ```python blocks run with this interpreter; ```yaml blocks must be valid configuration that
  sets no key without effect.
- A block that must not run is marked by `<!-- skip: why -->` on the line before it; the run
  prints every skipped block and its reason. Blocks in other languages (```text, ```json that
  follows no command, ```cel, unlabelled) are not run; an unlabelled block that holds a curl
  or shieldx command is refused (label it ```sh, or ```text for a synopsis).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shieldx.config import ConfigError, ineffective_settings, load_settings
from shieldx.platform.loadgen import RunningServer, free_port, spawn_server

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ADMIN_KEY = "docs-bootstrap-admin-key-0123456789"
DEFAULT_PORTS = {"credits": 5004, "shadow": 5005, "camouflage": 8089, "locator": 8080}
RUN_LANGS = {"sh", "bash", "shell"}
ELLIPSES = ("…", "...")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
SKIP = re.compile(r"^\s*<!--\s*skip:\s*(.+?)\s*-->\s*$")
EXPECT_STATUS = re.compile(r"^#\s?(\d{3})(?:\s+(.*))?$")
EXPECT_BODY = re.compile(r"^#\s?([\[{].*)$")
CURL = re.compile(r"(?:^|[\s;|&(`])curl\s")


@dataclass
class Block:
    """One fenced block of a document."""

    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None
    follows_code: bool  # only blank lines between this block and the previous one

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line} (```{self.lang or ''} block)"


def parse_blocks(doc: Path) -> list[Block]:
    """Every fenced block of DOC with its line, language and skip marker."""
    lines = doc.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    last_close = -10
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        skip = SKIP.match(lines[before]) if before >= 0 else None
        follows = before == last_close
        blocks.append(
            Block(doc, i + 1, lang.lower(), "\n".join(body), skip and skip.group(1), follows)
        )
        last_close = j
        i = j + 1
    return blocks


# ---- documented answers -------------------------------------------------------------------


@dataclass
class Expected:
    """One documented answer: a status, a body, or both; at the line it was written."""

    line: int
    status: int | None
    body: str | None


@dataclass
class Call:
    """A curl in a block's text, with what the document says it answers."""

    line: int
    text: str
    answers: list[Expected] = field(default_factory=list)


def parse_calls(block: Block) -> list[Call]:
    """The curl commands of an sh block, in order, each with the answers documented under it."""
    calls: list[Call] = []
    lines = block.text.split("\n")
    previous_is_code = False
    current: Expected | None = None
    for offset, raw in enumerate(lines):
        line_no = block.line + 1 + offset
        stripped = raw.strip()
        if stripped.startswith("#"):
            status = EXPECT_STATUS.match(stripped)
            body = EXPECT_BODY.match(stripped)
            if (previous_is_code or current is not None) and (status or body) and calls:
                if status:
                    current = Expected(line_no, int(status.group(1)), status.group(2))
                else:
                    assert body is not None
                    current = Expected(line_no, None, body.group(1))
                calls[-1].answers.append(current)
            elif current is not None and re.match(r"^#\s{2,}\S", stripped):
                current.body = (current.body or "") + "\n" + stripped[1:].strip()
            else:
                current = None
            previous_is_code = False
            continue
        current = None
        previous_is_code = bool(stripped)
        if stripped:
            code = raw.split(" #", 1)[0]
            calls.extend(Call(line_no, stripped) for _ in CURL.finditer(" " + code))
    return calls


def _tolerant_json(text: str) -> Any:
    """Parse a documented body: `…` values, trailing `, …` and `"...": "..."` are allowed."""
    t = text
    for e in map(re.escape, ELLIPSES):
        t = re.sub(rf",\s*{e}\s*}}", "}", t)
        t = re.sub(rf",\s*{e}\s*\]", ', "\u2026MORE"]', t)
        t = re.sub(rf"(:\s*){e}(?=\s*[,}}])", r'\1"…"', t)
        t = re.sub(rf"\[\s*{e}\s*\]", '["\u2026MORE"]', t)
    return json.loads(t)


def _is_any(value: Any) -> bool:
    return isinstance(value, str) and value in ELLIPSES


def compare(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Differences between a documented value and the actual one (subset match)."""
    if _is_any(expected):
        return []
    if isinstance(expected, str) and any(e in expected for e in ELLIPSES):
        parts = re.split("|".join(map(re.escape, ELLIPSES)), expected)
        pattern = ".*".join(map(re.escape, parts))
        if isinstance(actual, str) and re.fullmatch(pattern, actual, re.S):
            return []
        return [f"{where}: documented {expected!r}, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: documented an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if _is_any(key):
                continue
            if key not in actual:
                problems.append(f"{where}.{key}: documented, but missing from the answer")
            else:
                problems += compare(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: documented a list, got {actual!r}"]
        more = bool(expected) and expected[-1] == "\u2026MORE"
        items = expected[:-1] if more else expected
        if len(actual) < len(items) or (not more and len(actual) != len(items)):
            return [f"{where}: documented {len(items)} item(s), got {len(actual)}: {actual!r}"]
        problems = []
        for n, item in enumerate(items):
            problems += compare(item, actual[n], f"{where}[{n}]")
        return problems
    if expected != actual or (type(expected) is bool and type(actual) is not bool):
        return [f"{where}: documented {expected!r}, got {actual!r}"]
    return []


def compare_body(documented: str, actual: str) -> list[str]:
    """Compare a documented body (JSON or text) with an actual one."""
    documented = documented.strip()
    if documented[:1] in "[{" or re.fullmatch(r"-?\d+(\.\d+)?", documented):
        try:
            expected = _tolerant_json(documented)
        except json.JSONDecodeError as exc:
            return [f"the documented body is not JSON ({exc}): {documented}"]
        try:
            got = json.loads(actual)
        except json.JSONDecodeError:
            return [f"documented JSON, got {actual[:300]!r}"]
        return compare(expected, got)
    want = documented.split("\n")
    have = actual.strip().split("\n")
    if len(want) != len(have):
        return [f"documented {len(want)} line(s), got {len(have)}: {actual[:500]!r}"]
    return [
        p
        for n, (w, h) in enumerate(zip(want, have, strict=True))
        for p in compare(w, h, f"line {n + 1}")
    ]


# ---- the live platform --------------------------------------------------------------------


@dataclass
class Platform:
    """The running platform and what the examples' shell gets."""

    server: RunningServer
    data_dir: Path
    env: dict[str, str]
    ports: dict[str, int]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One `shieldx up` (all four services, free ports, a fresh data dir) for every document."""
    data_dir = tmp_path_factory.mktemp("docs-platform")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    # Real port numbers, not 0: the locator's issuer is its configured port.
    ports = [f"--{name}-port={free_port()}" for name in DEFAULT_PORTS]
    # One decoy, as in docs/camouflage.md's example configuration, on a free port.
    config = data_dir / "docs.yaml"
    config.write_text(
        "camouflage:\n  decoys:\n"
        f"    - {{name: edge-web, template: nginx-1.22.1-debian, port: {free_port()}}}\n"
    )
    ports.append(f"--config={config}")
    server_env = {"SHIELDX_LOGGING_LEVEL": "warning"}
    with spawn_server(
        ["up", *ports], data_dir=data_dir, admin_key=ADMIN_KEY, env=server_env
    ) as srv:
        base_env = {**clean, "SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_LOGGING_LEVEL": "warning"}
        create = ["keys", "create", "--role", "operator", "--tenant", "acme", "--json"]
        created = subprocess.run(
            [sys.executable, "-m", "shieldx", *create],
            capture_output=True,
            text=True,
            env=base_env,
            timeout=120,
            check=True,
        )
        acme_key = json.loads(created.stdout)["key"]
        bound = {name: int(url.rsplit(":", 1)[1]) for name, url in srv.urls.items()}
        shim = data_dir / "bin"
        shim.mkdir()
        (shim / "shieldx").write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m shieldx "$@"\n'
        )
        (shim / "shieldx").chmod(0o755)
        env = {
            **base_env,
            "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "KEY": ADMIN_KEY,
            "ADMIN_KEY": ADMIN_KEY,
            "K": acme_key,
        }
        yield Platform(srv, data_dir, env, bound)


def with_ports(text: str, ports: dict[str, int]) -> str:
    """Point the documented default ports at the live platform."""
    for name, default in DEFAULT_PORTS.items():
        text = re.sub(rf"\b(localhost|127\.0\.0\.1):{default}\b", f"127.0.0.1:{ports[name]}", text)
    return text


# ---- running a document -------------------------------------------------------------------

PRELUDE = r"""
set -eo pipefail
set -a
if [ -s "$DOC_STATE" ]; then . "$DOC_STATE"; fi
curl() {
  local n; n=$(( $(wc -l < "$DOC_CALLS") + 1 ))
  printf '%s\n' "$n" >> "$DOC_CALLS"
  command curl -D "$DOC_OUT/$n.headers" "$@" | tee "$DOC_OUT/$n.body"
  return "${PIPESTATUS[0]}"
}
"""
EPILOGUE = '\nexport -p | grep -v -E "^declare -x (DOC_|OLDPWD|PWD|SHLVL|_=)" > "$DOC_STATE"\n'


def _status(headers: Path) -> int | None:
    if not headers.exists():
        return None
    codes = re.findall(r"^HTTP/\S+ (\d{3})", headers.read_text(errors="replace"), re.M)
    return int(codes[-1]) if codes else None


def run_shell(block: Block, next_block: Block | None, platform: Platform, work: Path) -> list[str]:
    """Run one sh block; return what differs from the document (empty when it agrees)."""
    out = work / f"calls-{block.line}"
    out.mkdir()
    (out / "log").write_text("")
    script = work / f"block-{block.line}.sh"
    script.write_text(PRELUDE + with_ports(block.text, platform.ports) + EPILOGUE)
    env = {
        **platform.env,
        "DOC_STATE": str(work / "state.sh"),
        "DOC_CALLS": str(out / "log"),
        "DOC_OUT": str(out),
    }
    try:
        result = subprocess.run(
            ["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return [
            "did not finish within 120 s: a server that runs until stopped? "
            "Mark the block <!-- skip: why --> if it must not run"
        ]
    problems: list[str] = []
    if result.returncode != 0:
        problems.append(
            f"exited {result.returncode}\n  stdout: {result.stdout[-1500:]}\n  stderr: {result.stderr[-1500:]}"
        )
    calls = parse_calls(block)
    ran = len((out / "log").read_text().split())
    if ran != len(calls) and result.returncode == 0:
        problems.append(f"the text has {len(calls)} curl command(s) but {ran} ran")
    if next_block is not None and calls:
        calls[-1].answers.append(Expected(next_block.line, None, next_block.text))
    for n, call in enumerate(calls[:ran], start=1):
        status = _status(out / f"{n}.headers")
        body = (
            (out / f"{n}.body").read_text(errors="replace") if (out / f"{n}.body").exists() else ""
        )
        head = f"line {call.line}: {call.text[:100]}"
        if not call.answers:
            if status is None or status >= 400:
                problems.append(
                    f"{head}\n  answered {status} (documented nothing, so < 400 expected): {body[:500]}"
                )
            continue
        attempts = []
        for answer in call.answers:
            diffs = []
            if answer.status is not None and answer.status != status:
                diffs.append(f"status: documented {answer.status}, got {status}")
            elif answer.body:
                diffs += compare_body(with_ports(answer.body, platform.ports), body)
            if not diffs:
                break
            attempts.append(
                f"  vs the answer documented at line {answer.line}:\n    " + "\n    ".join(diffs)
            )
        else:
            problems.append(f"{head}\n" + "\n".join(attempts) + f"\n  actual body: {body[:800]}")
    return problems


def run_python(block: Block, platform: Platform, work: Path) -> list[str]:
    """Run one python block with this interpreter."""
    script = work / f"block-{block.line}.py"
    script.write_text(with_ports(block.text, platform.ports))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=work,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        return [f"exited {result.returncode}: {result.stderr[-1500:]}"]
    return []


def check_yaml(block: Block, work: Path) -> list[str]:
    """A yaml block is a configuration: it must validate and set no key without effect."""
    path = work / f"block-{block.line}.yaml"
    path.write_text(block.text)
    try:
        load_settings(path, environ={})
    except ConfigError as exc:
        return [f"not a valid configuration: {'; '.join(exc.problems)}"]
    return [f"sets a key with no effect: {w}" for w in ineffective_settings(path, {})]


def _next_expectation(blocks: list[Block], i: int) -> Block | None:
    nxt = blocks[i + 1] if i + 1 < len(blocks) else None
    if nxt is not None and nxt.lang == "json" and nxt.follows_code and nxt.skip is None:
        return nxt
    return None


def classify(blocks: list[Block]) -> list[tuple[Block, str]]:
    """What the harness does with each block: run, check, expect, skip: why, or not run: why."""
    kinds: list[tuple[Block, str]] = []
    for i, block in enumerate(blocks):
        prev = blocks[i - 1] if i else None
        if block.skip is not None:
            kinds.append((block, f"skip: {block.skip}"))
        elif block.lang in RUN_LANGS or block.lang == "python":
            kinds.append((block, "run"))
        elif block.lang == "yaml":
            kinds.append((block, "check"))
        elif (
            block.lang == "json"
            and prev is not None
            and prev.lang in RUN_LANGS
            and prev.skip is None
            and block.follows_code
        ):
            kinds.append((block, "expect"))
        else:
            kinds.append((block, f"not run: ```{block.lang or '(unlabelled)'} is not code to run"))
    return kinds


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run_and_answer_as_documented(
    doc: Path, platform: Platform, tmp_path: Path, record_property: Any
) -> None:
    blocks = parse_blocks(doc)
    failures: list[str] = []
    for i, (block, kind) in enumerate(classify(blocks)):
        if kind.startswith("skip"):
            record_property("doc-skipped", f"{block.where}: {kind}")
            continue
        if kind != "run" and kind != "check":
            continue
        if block.lang == "python":
            problems = run_python(block, platform, tmp_path)
        elif block.lang == "yaml":
            problems = check_yaml(block, tmp_path)
        else:
            problems = run_shell(block, _next_expectation(blocks, i), platform, tmp_path)
        if problems:
            failures.append(f"{block.where}:\n" + "\n".join(problems))
            if block.lang in RUN_LANGS:
                break  # later blocks build on this one's state
    assert not failures, "\n\n".join(failures)


def test_every_block_is_run_or_says_why_not() -> None:
    refused = []
    for doc in DOCUMENTS:
        for block, kind in classify(parse_blocks(doc)):
            looks_runnable = re.search(r"^\s*(\$ )?(curl|shieldx|make)\s", block.text, re.M)
            unlabelled = block.lang in ("", "console", "shell-session")
            if unlabelled and looks_runnable and kind.startswith("not run"):
                refused.append(f"{block.where}: holds commands; label it ```sh (or ```text)")
    assert not refused, "\n".join(refused)


def test_the_harness_compares_what_the_document_shows() -> None:
    assert (
        compare_body('{"a": 1, "b": "tx_…", "c": …}', '{"a": 1, "b": "tx_9", "c": [], "d": 0}')
        == []
    )
    assert compare_body('{"items": [{"n": 1}, …]}', '{"items": [{"n": 1, "m": 2}, {"n": 5}]}') == []
    assert compare_body('{"a": 1, ...}', '{"a": 2}') == ["$.a: documented 1, got 2"]
    assert compare_body('{"a": [1]}', '{"a": [1, 2]}') != []
    assert compare_body('{"flag": true}', '{"flag": 1}') != []
    assert compare_body("a,b\n…,2", "a,b\n2026-12-01,2\n") == []
    block = Block(
        ROOT / "README.md",
        1,
        "sh",
        'curl -s x \\\n  -d y\n# 201 {"a": 1,\n#      "b": 2}\n# 409\n\n# Next\ncurl z',
        None,
        False,
    )
    calls = parse_calls(block)
    assert [(c.line, [(a.status, a.body) for a in c.answers]) for c in calls] == [
        (2, [(201, '{"a": 1,\n"b": 2}'), (409, None)]),
        (9, []),
    ]


def test_markdown_python_blocks_are_ruff_formatted() -> None:
    """`make test` runs `ruff format --check .`, which covers Markdown; the doc suite does too."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff is not None, "ruff is not installed (pip install -e '.[dev]')"
    result = subprocess.run(
        [ruff, "format", "--check", *map(str, DOCUMENTS)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
