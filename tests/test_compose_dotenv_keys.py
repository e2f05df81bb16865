"""Which ``.env`` keys Docker Compose v2 takes, matched to compose-go's dotenv parser (dotenv/parser.go).

Since compose-go#378 ("env var name CAN be any unicode char", 2023) the key scanner walks runes: a
key is ``_ . - [ ]`` plus what Go's ``unicode.IsLetter`` or ``unicode.IsNumber`` takes; compose-go's
``isSpace`` (``\\t \\v \\f \\r`` space, U+0085, U+00A0) is skipped inside it, and anything else is
``line N: unexpected character``. Statements start after Go's ``unicode.IsSpace``, which, unlike
Python's ``str.isspace``, does not take U+001C..U+001F (checked with Go 1.19's unicode package). The
file is read as a Go string: a byte that is not UTF-8 is U+FFFD to the scanner (refused in a key,
docker/compose#10638) and kept in a value (rightsize refused the whole file: "not UTF-8 text").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli, sha

Capture = pytest.CaptureFixture[str]

COMPOSE = "services:\n  postgres:\n    image: x\n    mem_limit: ${MEM:-2g}\n"


def project(tmp_path: Path, dotenv: bytes) -> Path:
    path = tmp_path / "compose.yml"
    path.write_text(COMPOSE)
    (tmp_path / ".env").write_bytes(dotenv)
    return path


@pytest.mark.parametrize(
    ("line", "char"),
    [
        (b"\x1fMEM=1g", "'\\x1f'"),  # Python took U+001F for white space before the key
        (b"caf\xe9=1", "'\ufffd'"),  # Latin-1: not UTF-8, U+FFFD to Go
        ("e\u0301=1".encode(), "'\u0301'"),  # a combining accent (Mn) is no letter
        ("\U0001f642=1".encode(), "'\U0001f642'"),  # a symbol (So)
        ("A\u200bB=1".encode(), "'\\u200b'"),  # a zero-width space (Cf) is not Go's isSpace
    ],
)
def test_a_key_compose_refuses_is_one_error_line_with_the_files_line(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, line: bytes, char: str
) -> None:
    monkeypatch.delenv("MEM", raising=False)
    path = project(tmp_path, b"# sizes\n\n" + line + b"\n")
    before = sha(path)
    for command in (["apply"], ["check"], ["recommend"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, errors) == (
            2,
            "",
            [f"rightsize: error: {tmp_path / '.env'}:3: unexpected character {char} in variable name"],
        )
    assert sha(path) == before


@pytest.mark.parametrize(
    "line",
    [
        "ÁRVÍZTŰRŐ-TÜKÖRFÚRÓGÉP=x",  # compose-go#378's own example (letters, '-')
        "\u216b=1",  # Ⅻ, a letter number (Nl)
        "x\u00b2=1",  # ², another number (No)
        "\u01c5=1",  # ǅ, title case (Lt)
        "\u0663=1",  # ٣, an Arabic-Indic digit (Nd)
        "a\u00a0b=1",  # a no-break space inside a key is skipped (compose-go's isSpace): key 'a\xa0b'
        "export\tTAB=1",
    ],
)
def test_a_key_compose_takes_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    monkeypatch.delenv("MEM", raising=False)
    path = project(tmp_path, f"{line}\nMEM=1g\n".encode())
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1), err
    row = next(x for x in out.splitlines() if x.startswith("postgres") and " memory " in x)
    assert "reads 1g" in row


def test_a_value_that_is_not_utf8_is_kept_as_compose_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Latin-1 comment or value is no reason to stop: compose-go reads the file (the value keeps its
    bytes there; rightsize reads them as U+FFFD, which only a value it shows could tell)."""
    monkeypatch.delenv("MEM", raising=False)
    path = project(tmp_path, b"# r\xe9glages\nNOTE=caf\xe9\nMEM=1g # pr\xe9vu\n")
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1), err
    row = next(x for x in out.splitlines() if x.startswith("postgres") and " memory " in x)
    assert "reads 1g" in row
    code, _, err = run_cli(["apply", "--dry-run", "-f", str(path)], capsys)
    assert code == 0, err
