"""A seeded generator of compose files laid out every way YAML allows (block and flow services, flow
collections over several lines with comments and trailing commas, explicit keys, quoted and block
scalars last, sequences at their key's column, tabs before comments, CRLF, a byte-order mark, `---`
and `...`, no final line break), each applied with `rightsize apply -f` and read back by the real
Docker Compose v2 (`docker compose config`): the limits must be the ones recommended, everything else
as v2 read it before, and every comment kept.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from compose_v2_helpers import IMAGE, effective, files_args, sample_recs, v2

pytestmark = pytest.mark.docker
SERVICES = ("redis", "grafana", "postgres", "qdrant")
RESOURCE_KEYS = ("deploy", "mem_limit", "mem_reservation", "memswap_limit", "cpus", "cpu_quota", "pids_limit")


class _Layout:
    """One file's text, built line by line; ``#cN`` comments are numbered so each can be found after."""

    def __init__(self, rnd: random.Random, step: int) -> None:
        self.rnd, self.step, self.comments = rnd, step, 0

    def comment(self, always: bool = False) -> str:
        if not always and self.rnd.random() < 0.5:
            return ""
        self.comments += 1
        return f"  # c{self.comments}"

    def block_service(self, name: str, col: int) -> list[str]:
        pad, inner = " " * col, " " * (col + self.step)
        entries = [self._image(inner), self._labels(inner), self._resources(inner)]
        entries += [e for e in (self._environment(inner),) if self.rnd.random() < 0.5]
        self.rnd.shuffle(entries)
        entries.append(self._command(inner))  # last: the layouts that end a service oddly
        if self.rnd.random() < 0.3:
            entries.insert(
                self.rnd.randrange(len(entries)), [f"{self.rnd.choice(('', pad))}#{self.comment(True)}"]
            )
        lines = [f"{pad}{name}:{self.comment()}"]
        for e in entries:
            lines += [""] * (self.rnd.random() < 0.2) + e
        return lines

    def flow_service(self, name: str, col: int) -> list[str]:
        pad = " " * col
        mem = self.rnd.choice(("mem_limit: 1g", "deploy: {resources: {limits: {memory: 1g,},},}", ""))
        items = [f"image: {IMAGE}", "labels: [rightsize-test=1]", 'command: ["sleep", "3600"]', mem]
        items = [i for i in items if i]
        if self.rnd.random() < 0.5:
            return [f"{pad}{name}: {{{', '.join(items)}}}{self.comment()}"]
        inner = " " * (col + self.step)
        body = [f"{inner}{i},{self.comment()}" for i in items]
        if self.rnd.random() < 0.5:  # no trailing comma, a comment after the last entry
            body[-1] = f"{inner}{items[-1]}{self.comment()}"
        return [f"{pad}{name}: {{", *body, f"{pad}}}"]

    def _image(self, pad: str) -> list[str]:
        if self.rnd.random() < 0.15:
            return [f"{pad}? image{self.comment()}", f"{pad}: {IMAGE}"]
        return [f"{pad}image: {IMAGE}{self.comment()}"]

    def _labels(self, pad: str) -> list[str]:
        way = self.rnd.randrange(3)
        if way == 0:
            return [f"{pad}labels: [rightsize-test=1]{self.comment()}"]
        dash = pad + " " * self.rnd.choice((0, self.step))  # a sequence may sit at its key's column
        if way == 1:
            return [f"{pad}labels:{self.comment()}", f"{dash}- rightsize-test=1{self.comment()}"]
        return [
            f"{pad}labels: [{self.comment(True)}",
            f"{dash}  rightsize-test=1,{self.comment()}",
            f"{pad}]",
        ]

    def _environment(self, pad: str) -> list[str]:
        return [f"{pad}environment:", f"{pad}{' ' * self.step}A: 'x # not a comment'{self.comment()}"]

    def _resources(self, pad: str) -> list[str]:
        way, s = self.rnd.randrange(6), " " * self.step
        if way == 0:
            return []
        if way == 1:
            return [f"{pad}mem_limit: 1g{self.comment()}"]
        if way == 2:
            return [f"{pad}? mem_limit{self.comment()}", f"{pad}: 1g{self.comment()}"]
        if way == 3:
            return [
                f"{pad}deploy:{self.comment()}",
                f"{pad}{s}resources:",
                f"{pad}{s}{s}limits: {{memory: 1g{self.rnd.choice(('', ','))}}}{self.comment()}",
            ]
        if way == 4:
            return [f"{pad}deploy: {{resources: {{limits: {{memory: 1g}}}}}}{self.comment()}"]
        return [
            f"{pad}deploy:",
            f"{pad}{s}resources:{self.comment()}",
            f"{pad}{s}{s}limits:",
            f"{pad}{s}{s}{s}memory: 1g{self.comment()}",
            f"{pad}{s}{s}reservations:{self.comment()}",
            f"{pad}{s}{s}{s}memory: 64m",
        ]

    def _command(self, pad: str) -> list[str]:
        way = self.rnd.randrange(6)
        if way == 0:
            return [f"{pad}command: sleep 3600{self.comment()}"]
        if way == 1:  # a flow sequence over several lines, closed at the key's column
            return [
                f"{pad}command: [{self.comment()}",
                f"{pad}  sleep,{self.comment()}",
                f"{pad}  '3600'",
                f"{pad}]",
            ]
        if way == 2:  # a quoted scalar continued less indented than its key
            return [f'{pad}command: "sleep', f'  3600"{self.comment()}']
        if way == 3:
            return [
                f"{pad}command: >{self.comment()}",
                f"{pad}{' ' * self.step}sleep",
                f"{pad}{' ' * self.step}3600",
            ]
        if way == 4:  # a plain scalar folded over two lines
            return [f"{pad}command: sleep", f"{pad}{' ' * self.step}3600{self.comment()}"]
        return [f"{pad}command:{self.comment()}", f"{pad}- sleep", f"{pad}- '3600'{self.comment()}"]


def layout(seed: int) -> str:
    """A compose file of 2-3 services."""
    rnd = random.Random(seed)
    lay = _Layout(rnd, rnd.choice((2, 4)))
    lines = ["---"] * (rnd.random() < 0.15) + [f"# project {seed}", f"services:{lay.comment()}"]
    for name in rnd.sample(SERVICES, rnd.randint(2, 3)):
        make = lay.flow_service if rnd.random() < 0.25 else lay.block_service
        lines += make(name, lay.step)
    if rnd.random() < 0.15:
        lines += ["...", "# after the document end"]
    text = "\n".join(lines) + "\n" * (rnd.random() > 0.15)
    if rnd.random() < 0.15:
        text = text.replace("  # c", "\t# c")  # a tab before comments: v2 reads it
    if rnd.random() < 0.15:
        text = text.replace("\n", "\r\n")
    if rnd.random() < 0.1:
        text = "\ufeff" + text
    return text


def _config(project: str, folder: Path) -> dict[str, Any]:
    return dict(
        json.loads(v2(project, folder, ("compose.yml",), "config", "--format", "json").stdout)["services"]
    )


@pytest.mark.slow
def test_seeded_layouts_are_applied_as_v2_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recs = sample_recs()
    for seed in range(30):
        folder = tmp_path / str(seed)
        folder.mkdir()
        text = layout(seed)
        (folder / "compose.yml").write_bytes(text.encode())
        project = f"rs8layout{seed}"  # (config only: nothing is started)
        before = _config(project, folder)
        code, _, err = run_cli(["apply", *files_args(folder, ("compose.yml",))], capsys)
        assert code == 0, (seed, err, text)
        after = _config(project, folder)
        for svc, node in after.items():
            mem = recs[(svc, "memory")]
            got = effective(node)
            assert (got["mem"], got["memres"]) == (mem.limit, mem.reservation), (seed, svc, text)
            rest = {k: v for k, v in node.items() if k not in RESOURCE_KEYS}
            assert rest == {k: v for k, v in before[svc].items() if k not in RESOURCE_KEYS}, (seed, svc)
        patched = (folder / "compose.yml").read_bytes().decode()
        lost = [n for n in re.findall(r"# (c\d+)\b", text) if not re.search(rf"# {n}\b", patched)]
        assert not lost, (seed, lost, patched)
        assert patched.startswith("\ufeff") == text.startswith("\ufeff"), seed
        assert ("\r\n" in text) == ("\r\n" in patched) and patched.count("\n") >= text.count("\n"), seed
