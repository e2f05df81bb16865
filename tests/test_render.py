"""Every format shows every recommendation, including explicit no-recommendations with their reason."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re
import unicodedata
import warnings
from pathlib import Path

import cmarkgfm
import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli
from ruamel.yaml import YAML

from rightsize import store
from rightsize.analysis.recommend import recommend, sample_path
from rightsize.errors import RightsizeError
from rightsize.models import Recommendation
from rightsize.render import FORMATS, records, render
from rightsize.render_yaml import dump


@pytest.fixture(scope="module")
def recs() -> list[Recommendation]:
    """The sample plus one workload with only 5 minutes of history."""
    frame = store.load(sample_path())
    short = frame[frame["workload"] == "sutazai/redis"].head(30).copy()
    short["workload"] = "sutazai/newcomer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return recommend(pd.concat([frame, short]), events=store.load_events(sample_path()))


def test_json_shape(recs: list[Recommendation]) -> None:
    data = json.loads(render(recs, "json"))
    assert len(data) == len(recs) == 33
    first = data[0]
    for key in ("workload", "resource", "unit", "current", "recommended", "observed", "samples",
                "history_seconds", "confidence", "reasons", "strategy"):  # fmt: skip
        assert key in first
    mem = next(d for d in data if d["resource"] == "memory" and d["recommended"])
    assert isinstance(mem["recommended"]["limit"], int) and mem["unit"] == "bytes"
    assert set(mem["observed"]) == {"p50", "p90", "p95", "p99", "max"}
    cpu = next(d for d in data if d["resource"] == "cpu" and d["recommended"])
    assert cpu["unit"] == "cores" and isinstance(cpu["recommended"]["limit"], float)
    none = [d for d in data if d["workload"] == "sutazai/newcomer"]
    assert len(none) == 3 and all(d["recommended"] is None for d in none)
    assert all("too little history" in d["reasons"][0] for d in none)


def test_yaml_and_csv_round_trip(recs: list[Recommendation]) -> None:
    data = YAML(typ="safe").load(render(recs, "yaml"))
    assert data == json.loads(render(recs, "json"))
    rows = list(csv.DictReader(io.StringIO(render(recs, "csv"))))
    assert len(rows) == 33
    neo = next(r for r in rows if r["workload"] == "sutazai/neo4j" and r["resource"] == "memory")
    assert neo["oom_kills"] == "2" and int(neo["recommended_limit"]) > int(neo["current_limit"])
    new = [r for r in rows if r["workload"] == "sutazai/newcomer"]
    assert all(r["recommended_limit"] == "" and "too little history" in r["reasons"] for r in new)


def test_markdown_is_the_plans_matrix(recs: list[Recommendation]) -> None:
    md = render(recs, "markdown")
    assert (
        "| Service | Current Memory | Optimized Memory | Current CPU | Optimized CPU | Current PIDs "
        "| Optimized PIDs |" in md
    )
    ollama = next(line for line in md.splitlines() if line.startswith("| sutazai/ollama"))
    cells = [c.strip() for c in ollama.strip("|").split("|")]
    assert cells[1] == "16G" and cells[3] == "8"
    newcomer = next(line for line in md.splitlines() if line.startswith("| sutazai/newcomer"))
    assert "no recommendation" in newcomer and "too little history" in newcomer
    assert "OOM-killed 2x" in md
    k8s = render(recs, "markdown", units="k8s")
    assert "| sutazai/ollama | 16Gi |" in k8s and "500m" in k8s


def test_table_marks_ooms_throttling_and_missing(recs: list[Recommendation]) -> None:
    text = render(recs, "table")
    assert "OOM-killed 2x" in text and "throttled 2" in text
    assert "no recommendation" in text and "too little history" in text
    assert "16G" in text and "sutazai/newcomer" in text


def test_low_confidence_is_marked() -> None:
    frame = store.load(sample_path())
    part = frame[frame["ts"] < frame["ts"].min() + pd.Timedelta(hours=3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = recommend(part, workloads="sutazai/redis")
    assert "low confidence (3.0 h of history)" in render(r, "table")
    short = part[part["ts"] < part["ts"].min() + pd.Timedelta(minutes=70)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = recommend(short, workloads="sutazai/redis")
    assert "low confidence (70 min of history)" in render(r, "table")


def test_unknown_format_or_units() -> None:
    with pytest.raises(RightsizeError, match="unknown format"):
        render([], "xml")
    with pytest.raises(RightsizeError, match="unknown units"):
        render([], "json", units="imperial")
    for fmt in FORMATS:
        assert isinstance(render([], fmt), str)


def test_numbers_in_the_table_are_what_the_json_says(recs: list[Recommendation]) -> None:
    r = next(x for x in recs if x.workload == "sutazai/ollama" and x.resource == "memory")
    assert r.recommended is not None and r.recommended.limit is not None
    gib = r.recommended.limit / 2**30
    assert float(np.round(gib)) == gib  # a whole number of GiB at this size
    assert f"/ {int(gib)}G" in render([r], "table")


ODD_NAMES = ["shop/evil\nname|x", "shop/[bold]loud[/]", "shop/back\\slash*star*", "shop/plain"]


@pytest.fixture(scope="module")
def odd_dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Four workloads whose names carry a newline, a pipe, rich markup and markdown specials."""
    return _dataset(str(tmp_path_factory.mktemp("odd")), ODD_NAMES)


def test_markdown_keeps_one_row_per_service_whatever_the_name(
    odd_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["recommend", "--data", odd_dataset, "--format", "markdown"], capsys)
    assert code == 0
    lines = out.splitlines()
    table = lines[lines.index("|---|---|---|---|---|---|---|---|") + 1 :]
    rows = table[: table.index("")]
    assert len(rows) == len(ODD_NAMES)
    # every row has exactly the 8 cells of the header: no raw pipe, no line break inside a name
    assert all(len(re.split(r"(?<!\\)\|", row)) == 8 + 2 for row in rows)
    assert "| shop/evil\\nname\\|x |" in out and "| shop/back\\\\slash\\*star\\* |" in out
    notes = [line for line in lines if line.startswith("- **")]
    assert len(notes) == 3 * len(ODD_NAMES)  # one note per resource, none split over two lines
    assert "- **shop/evil\\nname\\|x** memory:" in out


def test_table_and_csv_show_odd_names_as_they_are(
    odd_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["recommend", "--data", odd_dataset], capsys)
    assert code == 0
    # rich markup in a name is shown, not interpreted; a newline is shown escaped on one line
    assert "shop/[bold]loud[/]" in out and "shop/evil\\nname|x" in out
    assert "shop/back\\slash*star*" in out
    code, out, _ = run_cli(["recommend", "--data", odd_dataset, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted({r["workload"] for r in rows}) == sorted(ODD_NAMES)  # CSV quoting keeps them exact


def _dataset(root: str, names: list[str]) -> str:
    """A small dataset with one steady workload per name (ids differ so names may repeat chars)."""
    n = 400
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 300, unit="s")
    mem = pd.array(np.full(n, 100 * 2**20), dtype="Int64")
    common = {"ts": ts, "host": "h", "container": "app", "mem_working_set": mem, "cpu_cores": 0.1, "pids": 5}
    frames = [
        pd.DataFrame({**common, "workload": name, "container_id": f"c{i}", "oom_kills": 0, "restarts": 0})
        for i, name in enumerate(names)
    ]
    store.append(root, store.to_table(pd.concat(frames)))
    return root


# name -> what GitHub should show: markup, entities and links stay text; bidi/control chars escaped
MARKUP_NAMES = {
    "shop/&lt;b&gt; &amp; &#42;": "shop/&lt;b&gt; &amp; &#42;",
    "shop/_x_ and *y* `z` ~~s~~ **b**": "shop/_x_ and *y* `z` ~~s~~ **b**",
    "shop/[l](http://e.com) ![i](x.png) <i>h</i>": "shop/[l](http://e.com) ![i](x.png) <i>h</i>",
    "shop/www.example.com https://e.com": "shop/www.example.com https://e.com",
    "shop/\u202eevil\u200b\x1b[31m": "shop/\\u202eevil\\u200b\\x1b[31m",
}


@pytest.fixture(scope="module")
def markup_dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _dataset(str(tmp_path_factory.mktemp("markup")), list(MARKUP_NAMES))


def test_markdown_names_render_literally_on_github(
    markup_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Render the matrix with cmark-gfm (GitHub's own parser): each name is plain text, as given."""

    code, out, _ = run_cli(["recommend", "--data", markup_dataset, "--format", "markdown"], capsys)
    assert code == 0
    page = cmarkgfm.github_flavored_markdown_to_html(out)
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    first_cells = re.findall(r"<tr>\s*<td>(.*?)</td>", body, flags=re.S)
    assert len(first_cells) == len(MARKUP_NAMES)
    assert all("<" not in cell for cell in first_cells)  # no <em>, <code>, <a>, <del>, raw HTML
    assert sorted(html.unescape(c) for c in first_cells) == sorted(MARKUP_NAMES.values())
    strong = re.findall(r"<li><strong>(.*?)</strong>", page, flags=re.S)
    assert len(strong) == 3 * len(MARKUP_NAMES)
    assert all("<" not in s for s in strong)
    assert {html.unescape(s) for s in strong} == set(MARKUP_NAMES.values())


def test_table_escapes_bidi_and_control_characters(
    markup_dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal must not reorder or recolour the line: no control or format char reaches it."""
    code, out, _ = run_cli(["recommend", "--data", markup_dataset], capsys)
    assert code == 0
    bad = [ch for ch in out if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]
    assert bad == []
    assert "shop/\\u202eevil\\u200b\\x1b[31m" in out


def test_a_huge_observation_is_shown_in_scientific_notation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken counter's 1e300 cores must not print as a 301-digit number (the JSON keeps it exact)."""
    frame = store.load(_dataset(str(tmp_path), ["shop/a"]))
    frame.loc[frame.index[-1], "cpu_cores"] = 1e300
    huge = str(tmp_path / "huge")
    store.append(huge, store.to_table(frame))
    code, out, _ = run_cli(["recommend", "--data", huge], capsys)
    assert code == 0
    assert "0.1 / 1e+300" in out and not re.search(r"\d{16}", out)
    code, out, _ = run_cli(["recommend", "--data", huge, "--format", "json"], capsys)
    cpu = next(d for d in json.loads(out) if d["resource"] == "cpu")
    assert cpu["observed"]["max"] == 1e300


ROUND_TRIP_NAMES = [
    'shop/"quoted"\nline',
    'shop/it\'s, a: "name"\r\n- x',
    "shop/tab\there\\back",
    "shop/\u202eé #x",
]


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_machine_formats_give_names_back_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    data = _dataset(str(tmp_path), ROUND_TRIP_NAMES)
    code, out, _ = run_cli(["recommend", "--data", data, "--format", fmt], capsys)
    assert code == 0
    if fmt == "json":
        rows = json.loads(out)
    elif fmt == "yaml":
        rows = YAML(typ="safe").load(out)
    else:
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 3 * len(ROUND_TRIP_NAMES)
    assert sorted({r["workload"] for r in rows}) == sorted(ROUND_TRIP_NAMES)


def test_table_fits_the_terminal_width_from_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An 80-column terminal got 160-column lines: each row wrapped into two, the box lines broken.
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(["recommend"], capsys)
    assert code == 0 and "sutazai/" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    monkeypatch.delenv("COLUMNS")  # a pipe or file (no terminal, no COLUMNS): 160 wide, as before
    code, out, _ = run_cli(["recommend"], capsys)
    assert 80 < max(len(line) for line in out.splitlines()) <= 160


# Names that YAML writers get wrong: indicators, quotes, YAML 1.1/1.2 keywords and numbers, blanks,
# control and format characters, line breaks, and long ones that fold at 80 columns.
AWKWARD_NAMES = [
    'shop/"quoted"', "shop/it's", "a: b", "a:b", "trailing:", "#hash", "x #y", "- dash", "-dash",
    "? q", "---", "...", "[x]", "{x}", "&a", "*a", "!t", "|p", ">f", "%p", "@a", "`b", ",c", "=", "<<",
    "é/ünïcode", "日本/サービス", "emoji/😀", "bidi/\u202eevil", "zw/\u200bx", "bom/\ufeffx",
    "tab\tx", "nl\nx", "crlf\r\nx", "nel\x85x", "ls\u2028x", "nul\x00x", "bell\x07",
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "null", "Null", "~", "true", "False",
    "123", "-1", "1.5", "1e3", ".5", "0x1f", "0o17", "0b101", "1_000", "1:20", "2026-01-01",
    "2026-01-01 10:00:00", ".inf", "-.Inf", ".nan", "", " ", " lead", "trail ", "a  b", "back\\slash",
    "both ' and \" quotes", "'single'",
    "svc " * 30, "x" * 120, "word " * 20 + "x" * 90, "kept: " + "long words " * 12,
    "ns/" + "a-b " * 25 + ": tail", "it's " * 25, "tab\t " * 30, "é " * 60,
] + [f"team-{i}/{kind}" for i, kind in enumerate(["api", "db: main", "#1", "yes", "0.5"] * 4)]  # fmt: skip
# written differently from ruamel on purpose: 1.1 keywords quoted; line breaks, control characters
# and quotes of both kinds double-quoted on one line (ruamel's folding lost a space after an escape)
NOT_LIKE_RUAMEL = ("'", "  ")
UNPRINTABLE = re.compile(
    "[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
YAML11_WORDS = {"yes", "no", "on", "off", "y", "n", "Yes", "NO", "1:20"}


@pytest.fixture(scope="module")
def awkward_recs(tmp_path_factory: pytest.TempPathFactory) -> list[Recommendation]:
    root = _dataset(str(tmp_path_factory.mktemp("awkward")), AWKWARD_NAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return recommend(root)


def _ruamel_yaml(recs: list[Recommendation]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump([r.to_dict() for r in recs], buf)
    return buf.getvalue()


def test_yaml_of_awkward_names_reads_back_as_the_json(awkward_recs: list[Recommendation]) -> None:
    assert len(awkward_recs) == 3 * len(AWKWARD_NAMES)
    text = render(awkward_recs, "yaml")
    expected = json.loads(render(awkward_recs, "json"))
    assert YAML(typ="safe").load(text) == expected  # YAML 1.2
    old = YAML(typ="safe")
    old.version = (1, 1)  # the older rules: yes/no/on/off are booleans, 1:20 is a number
    assert old.load(text) == expected
    assert sorted(d["workload"] for d in expected) == sorted(AWKWARD_NAMES * 3)


def test_yaml_reads_back_with_pyyaml(awkward_recs: list[Recommendation]) -> None:
    import yaml as pyyaml  # PyYAML (YAML 1.1, libyaml): a test dependency only
    text = render(awkward_recs, "yaml")
    assert pyyaml.load(text, Loader=pyyaml.CSafeLoader if pyyaml.__with_libyaml__ else pyyaml.SafeLoader) == (
        json.loads(render(awkward_recs, "json"))
    )


def test_yaml_is_ruamels_safe_dump_byte_for_byte(
    recs: list[Recommendation], awkward_recs: list[Recommendation]
) -> None:
    """The fast writer keeps the format the ruamel dumper gave (it took 21 s for 3,000 workloads)."""
    assert render(recs, "yaml") == _ruamel_yaml(recs)
    like = [
        r for r in awkward_recs
        if not UNPRINTABLE.search(r.workload)
        and not any(s in r.workload for s in NOT_LIKE_RUAMEL) and r.workload not in YAML11_WORDS
    ]  # fmt: skip
    assert len(like) > 150
    assert render(like, "yaml") == _ruamel_yaml(like)
    assert any("\n    " in r for r in render(like, "yaml").split("\n- "))  # some names were folded
    for name in YAML11_WORDS:
        ours = [r for r in awkward_recs if r.workload == name]
        assert f"workload: '{name}'\n" in render(ours, "yaml")
        assert f"workload: {name}\n" in _ruamel_yaml(ours)


def test_records_are_to_dict(recs: list[Recommendation], awkward_recs: list[Recommendation]) -> None:
    for group in (recs, awkward_recs):
        # the same keys in the same order: the JSON output is written from these
        assert json.dumps(records(group)) == json.dumps([r.to_dict() for r in group])


def test_yaml_writer_hands_shapes_it_does_not_know_to_ruamel() -> None:
    odd = [{"a": [{"b": 1}]}, {"c": {"d": [1, 2]}}, {"": "empty key"}]
    assert dump(odd) == "- a:\n  - b: 1\n- c:\n    d:\n    - 1\n    - 2\n- '': empty key\n"
    assert dump([]) == "[]\n" and dump([{}]) == "- {}\n"


@pytest.mark.parametrize("width", [160, 100, 60, 30])
def test_big_tables_are_drawn_as_rich_draws_them(
    recs: list[Recommendation],
    awkward_recs: list[Recommendation],
    monkeypatch: pytest.MonkeyPatch,
    width: int,
) -> None:
    """Plain rows are drawn without rich (it took 7 s for 3,000 workloads), wrapped where they do
    not fit (narrow terminals); the text is the same."""
    from rightsize import render_table

    emoji = dataclasses.replace(recs[0], workload="shop/:smile: a:b")  # rich shows an emoji for :smile:
    mixed = [*recs * 6, *awkward_recs[::25], emoji]  # mostly plain rows, some to wrap or measure
    monkeypatch.setattr(render_table, "WHOLE", 10**9)
    want = render(mixed, "table", width=width)
    monkeypatch.setattr(render_table, "WHOLE", 0)
    by_rich = []
    real = render_table._rich_row
    monkeypatch.setattr(render_table, "_rich_row", lambda *a: by_rich.append(a) or real(*a))
    assert render(mixed, "table", width=width) == want
    assert 0 < len(by_rich) <= len(mixed) // 10  # both ways were used
