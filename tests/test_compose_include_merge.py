"""A service that several ``include`` entries bring, merged as Docker Compose v2 merges it.

compose-go (loader/include.go, importResource, since compose-go#835) imports each include in turn and
merges what it brings *under* what the model already holds (``MergeYaml(imported, existing)``): the
including file's own service wins, then the first include over the later ones. Before #835 compose
refused it ("services.postgres conflicts with imported resource"), and so did rightsize. The paths of
one include entry merge like ``-f`` files instead: the later path wins. rightsize reads the value
compose uses and ``apply`` writes it in the file compose takes it from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha

G = 2**30
PG = "services:\n  postgres:\n    image: x\n"  # the bundled sample recommends postgres 1536M, 896M


def write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    out = {}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out[rel] = path
    return out


def current(capsys: pytest.CaptureFixture[str], top: Path) -> dict[str, object]:
    """postgres's limits as ``recommend -f`` reads them from the files."""
    code, out, err = run_cli(["recommend", "-f", str(top), "--format", "json"], capsys)
    assert code == 0, err
    return {
        r["resource"]: r["current"]["limit"] for r in json.loads(out) if r["workload"].endswith("/postgres")
    }


def memory_row(capsys: pytest.CaptureFixture[str], *files: Path) -> list[str]:
    code, out, err = run_cli(["check", *(x for f in files for x in ("-f", str(f)))], capsys)
    assert code in (0, 1), err
    return next(x.split() for x in out.splitlines() if x.startswith("postgres") and " memory " in x)


def apply_memory(capsys: pytest.CaptureFixture[str], top: Path) -> str:
    code, out, err = run_cli(["apply", "-f", str(top), "--only", "memory"], capsys)
    assert code == 0, err
    return out


def test_the_first_include_wins_and_apply_writes_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a.yml's 2g, not b.yml's 3g; a value only b.yml sets (cpus) still comes from b.yml."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include:\n  - a.yml\n  - b.yml\n",
            "a.yml": PG + "    mem_limit: 2g   # a's\n",
            "b.yml": PG.replace("x", "y") + "    mem_limit: 3g\n    cpus: 2\n",
        },
    )
    top, a, b = f["compose.yml"], f["a.yml"], f["b.yml"]
    assert current(capsys, top) == {"memory": 2 * G, "cpu": 2.0, "pids": None}
    assert memory_row(capsys, top)[2] == "2g"
    before = sha(b), sha(top)
    apply_memory(capsys, top)
    assert (sha(b), sha(top)) == before  # b's 3g is not what compose uses: left alone
    assert a.read_text() == PG + "    mem_limit: 1536m   # a's\n    mem_reservation: 896m\n"
    row = memory_row(capsys, top)
    assert row[2] == "1536m" and "ok" in row, row
    assert "total: 0 changed" in apply_memory(capsys, top)


def test_a_value_only_the_later_include_sets_is_written_there_diffs_in_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """b.yml's mem_limit is what compose uses (a.yml's postgres has none); a.yml's pids_limit wins
    over b.yml's. The diffs come in the order the files are written, a.yml first."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": PG + "    pids_limit: 50\n",
            "b.yml": PG + "    mem_limit: 3g\n    pids_limit: 100\n",
        },
    )
    top, a, b = f["compose.yml"], f["a.yml"], f["b.yml"]
    assert current(capsys, top) == {"memory": 3 * G, "cpu": None, "pids": 50}
    code, out, err = run_cli(["apply", "-f", str(top), "--only", "memory,pids", "--dry-run"], capsys)
    assert code == 0, err
    assert [x for x in out.splitlines() if x.startswith("--- ")] == [f"--- {a}", f"--- {b}"]
    code, out, err = run_cli(["apply", "-f", str(top), "--only", "memory,pids"], capsys)
    assert code == 0, err
    # (a new key goes to the file where the service keeps the resources compose uses: a.yml)
    assert a.read_text() == PG + "    pids_limit: 100\n    mem_reservation: 896m\n"
    assert b.read_text() == PG + "    mem_limit: 1536m\n    pids_limit: 100\n"
    assert current(capsys, top) == {"memory": 1536 * 2**20, "cpu": None, "pids": 100}


def test_the_first_includes_own_includes_win_over_a_later_include(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a.yml's model is deep.yml's postgres (4g) before it is imported: it wins over b.yml's 3g."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": "include: [deep.yml]\n",
            "deep.yml": PG + "    mem_limit: 4g\n",
            "b.yml": PG + "    mem_limit: 3g\n",
        },
    )
    assert current(capsys, f["compose.yml"])["memory"] == 4 * G
    before = sha(f["b.yml"])
    apply_memory(capsys, f["compose.yml"])
    assert "    mem_limit: 1536m\n" in f["deep.yml"].read_text()
    assert sha(f["b.yml"]) == before


@pytest.mark.parametrize(
    ("layout", "copies"),
    [
        ({"compose.yml": "include: [a.yml, b.yml]\n"}, ["a.yml", "b.yml"]),  # two entries of one include
        ({"compose.yml": "include: [b.yml]\n" + PG + "    mem_limit: 2g\n"}, ["compose.yml", "b.yml"]),  # own
        ({"compose.yml": "include: [a.yml, mid.yml]\n", "mid.yml": "include: [b.yml]\n"}, ["a.yml", "b.yml"]),
    ],
)
def test_identical_copies_compose_compares_on_import_are_patched_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: dict[str, str], copies: list[str]
) -> None:
    """compose 5.0+ uses the first copy only (the file's own, else the first include's); compose
    2.20-2.40 accepted identical copies (importResource: reflect.DeepEqual) and refused differing
    ones, so every copy gets the change: the project loads on both (rightsize refused it before)."""
    copy = PG + "    mem_limit: 2g\n"
    f = write(tmp_path, {"a.yml": copy, "b.yml": copy.replace("2g\n", "2g   # b's\n"), **layout})
    code, out, err = run_cli(["apply", "-f", str(f["compose.yml"]), "--only", "memory"], capsys)
    assert code == 0, err
    assert f"(kept identical to the copy in {f[copies[0]]}: Docker Compose before 5.0 refuses" in out
    for rel in copies:
        text = f[rel].read_text()
        assert (
            "mem_limit: 2g" not in text and "    mem_limit: 1536m" in text and "mem_reservation: 896m" in text
        )
    assert f["b.yml"].read_text().startswith(PG + "    mem_limit: 1536m   # b's\n")  # (comment kept)
    row = memory_row(capsys, f["compose.yml"])
    assert row[2] == "1536m" and "ok" in row, row
    assert "total: 0 changed" in apply_memory(capsys, f["compose.yml"])


def test_identical_copies_in_two_f_files_are_not_synced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-f files merge (the later wins) in every compose release: only the one compose uses changes."""
    copy = PG + "    mem_limit: 2g\n"
    f = write(tmp_path, {"one.yml": copy, "two.yml": copy})
    code, _, err = run_cli(
        ["apply", "-f", str(f["one.yml"]), "-f", str(f["two.yml"]), "--only", "memory"], capsys
    )
    assert code == 0, err
    assert f["one.yml"].read_text() == copy and "mem_limit: 1536m" in f["two.yml"].read_text()


def test_the_files_own_service_wins_over_both_includes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\nservices:\n  postgres:\n    cpus: 1\n",
            "a.yml": PG + "    mem_limit: 2g\n    cpus: 3\n",
            "b.yml": PG + "    mem_limit: 3g\n    cpus: 4\n    pids_limit: 80\n",
        },
    )
    assert current(capsys, f["compose.yml"]) == {"memory": 2 * G, "cpu": 1.0, "pids": 80}


@pytest.mark.parametrize(
    ("include", "memory"),
    [
        ("include: [a.yml, b.yml]\n", 2 * G),  # two entries: the first wins
        ("include:\n  - path: [a.yml, b.yml]\n", 3 * G),  # one entry's paths: like -f a -f b
    ],
)
def test_extends_finds_the_base_compose_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], include: str, memory: int
) -> None:
    """compose applies a file's includes before its ``extends``: ``extends: base`` gets the merged
    base (rightsize refused two includes' bases, and took a.yml's base over b.yml's within one entry)."""
    base = "services:\n  base:\n    image: x\n    mem_limit: {}\n"
    f = write(
        tmp_path,
        {
            "compose.yml": include + "services:\n  postgres:\n    extends: base\n",
            "a.yml": base.format("2g"),
            "b.yml": base.format("3g"),
        },
    )
    assert current(capsys, f["compose.yml"])["memory"] == memory
    before = sha(f["a.yml"]), sha(f["b.yml"])
    out = apply_memory(capsys, f["compose.yml"])
    assert "inherited through extends: own override written" in out
    assert (sha(f["a.yml"]), sha(f["b.yml"])) == before  # the bases are shared: not touched
    assert (
        f["compose.yml"]
        .read_text()
        .endswith("    extends: base\n    mem_limit: 1536m\n    mem_reservation: 896m\n")
    )


def test_one_include_entry_with_several_paths_merges_them_like_f_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``path: [a.yml, b.yml]`` (compose-go: loadYamlModel over the entry's files, each merged over
    the ones before): b.yml's 3g wins, so b.yml is patched; a.yml's own include comes under a.yml.
    (This was already right; pinned here beside the two-entries case.)"""
    f = write(
        tmp_path,
        {
            "compose.yml": "include:\n  - path: [a.yml, b.yml]\n",
            "a.yml": "include: [deep.yml]\n" + PG + "    mem_limit: 2g\n",
            "deep.yml": PG + "    mem_limit: 5g\n    pids_limit: 70\n",
            "b.yml": PG + "    mem_limit: 3g\n",
        },
    )
    assert current(capsys, f["compose.yml"]) == {"memory": 3 * G, "cpu": None, "pids": 70}
    before = sha(f["a.yml"]), sha(f["deep.yml"])
    apply_memory(capsys, f["compose.yml"])
    assert (sha(f["a.yml"]), sha(f["deep.yml"])) == before
    assert f["b.yml"].read_text() == PG + "    mem_limit: 1536m\n    mem_reservation: 896m\n"


RESET = PG + "    mem_limit: !reset null\n"


@pytest.mark.parametrize(
    ("files", "argv", "memory", "patched"),
    [
        # a.yml's !reset drops what a.yml's own stack holds, not what b.yml brings after it
        ({"compose.yml": "include: [a.yml, b.yml]\n", "a.yml": RESET, "b.yml": PG + "    mem_limit: 3g\n"},
         ["compose.yml"], 3 * G, "b.yml"),
        # an included file's !reset does not reach an earlier -f file (its include is merged first)
        ({"one.yml": PG + "    mem_limit: 2g\n", "two.yml": "include: [inc.yml]\n", "inc.yml": RESET},
         ["one.yml", "two.yml"], 2 * G, "one.yml"),
    ],
)  # fmt: skip
def test_a_reset_in_an_included_file_drops_only_what_it_is_merged_over(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    argv: list[str],
    memory: int,
    patched: str,
) -> None:
    """compose-go drops a ``!reset`` key from the file's own content (ResetProcessor.resolveReset) and
    applies the file's reset paths to what is merged under it in its own load: the files before it
    in its ``-f`` list (or include entry) and what it includes; rightsize dropped every earlier file."""
    f = write(tmp_path, files)
    args = [x for rel in argv for x in ("-f", str(f[rel]))]
    code, out, err = run_cli(["recommend", *args, "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [
        r["current"]["limit"] for r in rows if r["resource"] == "memory" and "postgres" in r["workload"]
    ] == [memory]
    code, out, err = run_cli(["apply", *args, "--only", "memory"], capsys)
    assert code == 0, err
    assert "    mem_limit: 1536m\n" in f[patched].read_text()
    # (the reservation may go beside the !reset: compose reads it there too)
    assert {rel: p.read_text().replace("    mem_reservation: 896m\n", "") for rel, p in f.items()} == {
        **files,
        patched: f[patched].read_text().replace("    mem_reservation: 896m\n", ""),
    }
    row = memory_row(capsys, *(f[rel] for rel in argv))
    assert row[2] == "1536m" and "ok" in row, row


def test_the_including_files_reset_drops_what_every_include_brings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file's own reset paths apply to each imported resource (importResource: processor.Apply)."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n" + RESET.replace("    image: x\n", ""),
            "a.yml": PG + "    cpus: 1\n",
            "b.yml": PG + "    mem_limit: 3g\n",
        },
    )
    assert current(capsys, f["compose.yml"]) == {"memory": None, "cpu": 1.0, "pids": None}
    before = {rel: sha(p) for rel, p in f.items() if rel != "compose.yml"}
    code, out, err = run_cli(["apply", "-f", str(f["compose.yml"]), "--only", "memory"], capsys)
    assert code == 0, err
    assert f"mem_limit is !reset in {f['compose.yml']}: not written" in out
    assert {rel: sha(p) for rel, p in f.items() if rel != "compose.yml"} == before
    assert f["compose.yml"].read_text().endswith("    mem_limit: !reset null\n    mem_reservation: 896M\n")


def test_extends_finds_a_base_in_a_file_two_includes_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a.yml and b.yml both include common.yml (a diamond): rightsize reads it once, through a.yml, and
    refused b.yml's ``extends: base`` ("which b.yml lacks"); compose loads b.yml with its includes."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": "include: [common.yml]\nservices:\n  web:\n    image: x\n",
            "b.yml": "include: [common.yml]\nservices:\n  postgres:\n    extends: base\n",
            "common.yml": "services:\n  base:\n    image: x\n    mem_limit: 2g\n",
        },
    )
    assert current(capsys, f["compose.yml"])["memory"] == 2 * G
    before = sha(f["common.yml"])
    apply_memory(capsys, f["compose.yml"])
    assert (
        f["b.yml"]
        .read_text()
        .endswith("    extends: base\n    mem_limit: 1536m\n    mem_reservation: 896m\n")
    )
    assert sha(f["common.yml"]) == before


@pytest.mark.parametrize("command", ["check", "apply"])
def test_bad_values_in_two_includes_name_the_first_file_one_line_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """compose-go casts each included file's values as it loads it, the includes in their order: a.yml
    is refused first (b.yml's value, under a.yml's, is refused too: compose never gets that far)."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": PG + "    mem_limit: lots\n",
            "b.yml": PG + "    mem_limit: heaps\n",
        },
    )
    before = {rel: sha(p) for rel, p in f.items()}
    code, out, err = run_cli([command, "-f", str(f["compose.yml"])], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(
        f"rightsize: error: {f['a.yml']}: services.postgres.mem_limit: not a memory size: 'lots'"
    )
    assert err.count("\n") == 1
    assert {rel: sha(p) for rel, p in f.items()} == before
