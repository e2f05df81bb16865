"""``apply --helm --map`` into list items (sidecars, initContainers, jobs, flow lists) through the CLI.

The recommendations are the bundled sample's (the real analysis); the values written are read back
from the summary's JSON, so the checks hold whatever the analysis recommends: the file's data equals
the old data plus exactly the reported keys, the reported key is itself a ``--map`` path leading to
the value, comments and styles are kept, a second run changes nothing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli, sha

from rightsize.targets import valuepath
from rightsize.targets.yaml import plain_yaml

CHART = """\
# values for the shop chart
backend:
  image: shop/api:1.4
  # sidecars run beside the API container
  sidecars:
    - name: exporter   # metrics for prometheus
      image: exporter:0.15
      ports: [9100]
    - name: proxy
      image: envoy:1.29
      resources:
        limits:
          memory: 1Gi   # guessed
  initContainers:
  - name: migrate
    image: shop/api:1.4
    resources: {}
  podAnnotations:
    prometheus.io/scrape: "true"
jobs:
  - {name: cleanup, schedule: "0 3 * * *"}
  - name: report
    schedule: "0 4 * * *"
frontend:
  extraContainers: [{name: nginx, image: "nginx:1.25"}]
"""


def load(text: str) -> Any:
    return plain_yaml().load(text)


def apply(path: Path, maps: list[str], capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    args = ["apply", "--helm", str(path), "--only", "memory", "--format", "json", *extra]
    for m in maps:
        args += ["--map", m]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)["results"][0]
    return result


def expected_data(before: Any, changes: list[dict[str, Any]]) -> Any:
    """The old data with each reported key set to its new value (and nothing else)."""
    data = copy.deepcopy(before)
    for ch in changes:
        steps = valuepath.parse(ch["key"])
        node = data
        for step in steps[:-1]:
            if isinstance(step, valuepath.Key):
                if node.get(step.name) is None:  # created by the write (or `resources:` with no value)
                    node[step.name] = {}
                node = node[step.name]
            elif isinstance(step, valuepath.Index):
                node = node[step.index]
            else:
                (node,) = [item for item in node if str(item.get(step.field)) == step.value]
        last = steps[-1]
        assert isinstance(last, valuepath.Key)
        node[last.name] = ch["new"]
    return data


def test_list_items_by_name_and_index_get_resources_and_nothing_else_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(CHART)
    maps = [
        "sutazai/backend=backend.sidecars[name=exporter]",
        "sutazai/frontend=backend.sidecars[name=proxy].resources",
        "sutazai/grafana=backend.initContainers[0]",
        "sutazai/neo4j=jobs[name=cleanup]",
        "sutazai/postgres=jobs[1]",
        "sutazai/ollama=frontend.extraContainers[name=nginx]",
    ]
    result = apply(path, maps, capsys)
    after = path.read_text()
    changes = result["changes"]
    keys = {c["key"] for c in changes}
    assert {k.rsplit(".resources", 1)[0] for k in keys} == {
        "backend.sidecars[name=exporter]",
        "backend.sidecars[name=proxy]",
        "backend.initContainers[0]",
        "jobs[name=cleanup]",
        "jobs[1]",
        "frontend.extraContainers[name=nginx]",
    }
    assert load(after) == expected_data(load(CHART), changes)
    for ch in changes:  # the printed key is a --map path to the value written
        found = valuepath.resolve(load_rt(after), valuepath.parse(ch["key"].rsplit(".", 1)[0]))
        assert str(found.node[ch["key"].rsplit(".", 1)[1]]) == ch["new"]
    old = {c["key"]: c["old"] for c in changes}
    assert old["backend.sidecars[name=proxy].resources.limits.memory"] == "1Gi"
    for line in CHART.splitlines():  # every comment is kept, on its line
        if "#" in line and "memory: 1Gi" not in line:
            assert line in after.splitlines()
    assert "          memory: " in after and "   # guessed\n" in after  # the value replaced, its comment kept
    new = {c["key"]: c["new"] for c in changes}
    # a new block sits at the item's key column, two deeper per level, like the file's other blocks
    exporter = (
        "    - name: exporter   # metrics for prometheus\n"
        "      image: exporter:0.15\n"
        "      ports: [9100]\n"
        "      resources:\n"
        "        limits:\n"
        f"          memory: {new['backend.sidecars[name=exporter].resources.limits.memory']}\n"
    )
    assert exporter in after
    assert "    resources:\n      limits:\n        memory: " in after  # initContainers' `{}` became a block
    cleanup = new["jobs[name=cleanup].resources.limits.memory"]
    assert f'  - {{name: cleanup, schedule: "0 3 * * *", resources: {{limits: {{memory: {cleanup}' in after
    assert '  extraContainers: [{name: nginx, image: "nginx:1.25", resources: {limits: {memory: ' in after
    assert '  - name: report\n    schedule: "0 4 * * *"\n    resources:\n      limits:\n' in after
    before = sha(path)
    again = apply(path, maps, capsys)
    assert again["changes"] == [] and sha(path) == before


def load_rt(text: str) -> Any:
    from rightsize.targets.yaml import parse

    return parse(text, "after").data


def test_dry_run_prints_the_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(CHART)
    code, out, err = run_cli(
        ["apply", "--helm", str(path), "--only", "memory", "--dry-run", "--map", "sutazai/backend=jobs[1]"],
        capsys,
    )
    assert code == 0 and path.read_text() == CHART
    assert out.startswith(f"--- {path}\n+++ {path}\n")
    assert "+    resources:\n+      limits:\n+        memory: " in out
    assert "jobs[1].resources.limits.memory: (unset) -> " in err


def block(col: int, step: int = 2, nl: str = "\n") -> str:
    """The resources block expected under a list item whose keys sit at col (values filled in later)."""
    lines = [(0, "resources:"), (1, "limits:"), (2, "memory: {lim}"), (1, "requests:"), (2, "memory: {req}")]
    return "".join(" " * (col + step * depth) + line + nl for depth, line in lines)


@pytest.mark.parametrize(
    ("text", "path", "block"),
    [
        pytest.param(  # dashes at the parent's column, 4-space mappings
            "app:\n    sidecars:\n    -   name: e\n        image: i\n",
            "app.sidecars[name=e]",
            block(8, step=4),
            id="indent-4",
        ),
        pytest.param(  # the last line of the file has no newline
            "x:\n  extra:\n  - name: e\n    image: i",
            "x.extra[0]",
            "\n" + block(4),
            id="no-final-newline",
        ),
        pytest.param(
            "a:\n- {}\n",
            "a[0]",
            None,
            id="empty-flow-item",
        ),
        pytest.param(  # a list of lists
            "m:\n  - - name: q\n      img: 1\n",
            "m[0][0]",
            block(6),
            id="nested-lists",
        ),
        pytest.param(  # keys with dots, escaped as helm --set does, and quoted as yq does
            'components:\n  "api.v2":\n    containers:\n    - name: api\n      image: i\n',
            "components.api\\.v2.containers[name=api]",
            block(6),
            id="escaped-dot",
        ),
        pytest.param(
            'components:\n  "api.v2":\n    containers:\n    - name: api\n      image: i\n',
            'components."api.v2".containers[name=api]',
            block(6),
            id="quoted-segment",
        ),
        pytest.param(
            'components:\n  "api.v2":\n    containers:\n    - name: api\n      image: i\n',
            'components["api.v2"].containers[name=api]',
            block(6),
            id="quoted-key",
        ),
        pytest.param(  # Windows line endings stay
            "a:\r\n  - name: e\r\n    image: i\r\n",
            "a[name=e]",
            block(4, nl="\r\n"),
            id="crlf",
        ),
    ],
)
def test_new_blocks_follow_the_items_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, path: str, block: str | None
) -> None:
    values = tmp_path / "values.yaml"
    values.write_bytes(text.encode())
    result = apply(values, [f"sutazai/backend={path}"], capsys)
    new = {c["key"].rsplit(".resources.", 1)[1]: c["new"] for c in result["changes"]}
    assert set(new) == {"limits.memory", "requests.memory"}
    after = values.read_bytes().decode()
    if block is None:
        assert after == (
            f"a:\n- {{resources: {{limits: {{memory: {new['limits.memory']}}}, "
            f"requests: {{memory: {new['requests.memory']}}}}}}}\n"
        )
    else:
        assert after == text + block.format(lim=new["limits.memory"], req=new["requests.memory"])
    assert load(after) == expected_data(load(text), result["changes"])
    before = sha(values)
    assert apply(values, [f"sutazai/backend={path}"], capsys)["changes"] == [] and sha(values) == before


BAD = [
    ("jobs[2]", "{f}: --map sutazai/backend=jobs[2]: jobs has 2 item(s): no [2]"),
    (
        "jobs[name=nightly]",
        "{f}: --map sutazai/backend=jobs[name=nightly]: no item of jobs has name=nightly "
        "(names there: cleanup, report)",
    ),
    ("dup[name=a]", "{f}: --map sutazai/backend=dup[name=a]: 2 items of dup have name=a: [0], [2]"),
    (
        "backend.image.resources",
        "{f}: --map sutazai/backend=backend.image.resources: backend.image is a single value "
        "('shop/api:1.4'), not a mapping",
    ),
    (
        "backend.image[0]",
        "{f}: --map sutazai/backend=backend.image[0]: "
        "backend.image is a single value ('shop/api:1.4'), not a list",
    ),
    (
        "backend.sidecars.resources",
        "{f}: --map sutazai/backend=backend.sidecars.resources: backend.sidecars is a list, not a mapping "
        "(address an item: backend.sidecars[0] or backend.sidecars[name=...])",
    ),
    (
        "backend.sidecars[0].ports[0]",
        "{f}: --map sutazai/backend=backend.sidecars[0].ports[0]: backend.sidecars[0].ports[0] is a single "
        "value (9100), not a mapping",
    ),
    ("backend[0]", "{f}: --map sutazai/backend=backend[0]: backend is a mapping, not a list"),
    (
        "worker.sidecars[0]",
        "{f}: --map sutazai/backend=worker.sidecars[0]: no key 'worker' under the top level",
    ),
    ("nulls[0]", "{f}: --map sutazai/backend=nulls[0]: nulls[0] is empty (null), not a mapping"),
    (
        "jobs[",
        "--map 'sutazai/backend=jobs[': an unclosed '[' "
        '(expected an index [0], a selector [name=value] or a quoted key ["a.b"])',
    ),
    (
        "jobs[x]",
        "--map 'sutazai/backend=jobs[x]': [x]: "
        'expected an index [0], a selector [name=value] or a quoted key ["a.b"]',
    ),
    (
        "jobs[-1]",
        "--map 'sutazai/backend=jobs[-1]': [-1]: "
        'expected an index [0], a selector [name=value] or a quoted key ["a.b"]',
    ),
    ("a..b", "--map 'sutazai/backend=a..b': an empty key in the dotted path"),
    ("jobs[0]x", "--map 'sutazai/backend=jobs[0]x': expected '.' or '[' after 'jobs[0]', found 'x'"),
    ("jobs]", "--map 'sutazai/backend=jobs]': a ']' without its '['"),
]


@pytest.mark.parametrize(("spelled", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_path_is_one_error_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spelled: str, message: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(CHART + "dup:\n- name: a\n- name: b\n- name: a\nnulls:\n-\n")
    before = sha(path)
    for dry in ([], ["--dry-run"]):
        code, out, err = run_cli(
            ["apply", "--helm", str(path), "--map", f"sutazai/backend={spelled}", *dry], capsys
        )
        assert code == 2 and out == "" and sha(path) == before
        assert [ln for ln in err.splitlines() if "warning" not in ln] == [
            "rightsize: error: " + message.format(f=path)
        ]


def test_a_list_item_shared_through_an_anchor_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "values.yaml"
    text = "base: &sc\n- name: e\n  image: i\nother:\n  sidecars: *sc\n"
    path.write_text(text)
    result = apply(path, ["sutazai/backend=other.sidecars[name=e]"], capsys)
    assert path.read_text() == text and result["changes"] == []
    reasons = {s["reason"] for s in result["skipped"] if s["workload"] == "sutazai/backend"}
    assert reasons == {
        "other.sidecars[name=e] is shared through anchor &sc; not edited (give the service its own block)"
    }


def test_auto_matching_never_enters_lists_and_says_where_a_named_item_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --map a workload is placed only under mapping keys (as before lists were addressable):
    an item named like it in a list, or a key holding a list, is not written; the skip names the item."""
    path = tmp_path / "values.yaml"
    text = (
        "app:\n  sidecars:\n  - name: backend\n    resources: {}\n"
        "grafana:\n- name: grafana\n  image: g\n"
        "frontend:\n  replicaCount: 2\n"
    )
    path.write_text(text)
    result = apply(path, [], capsys)
    data = load(path.read_text())
    assert data["app"] == load(text)["app"] and data["grafana"] == load(text)["grafana"]
    assert {c["key"].split(".")[0] for c in result["changes"]} == {"frontend"}
    reasons = {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}
    assert reasons["sutazai/backend"] == (
        "cannot place: no values key matches this workload (use --map WORKLOAD=dotted.path); "
        "a list item matches: --map sutazai/backend=app.sidecars[name=backend]"
    )
    assert reasons["sutazai/grafana"].endswith("--map sutazai/grafana=grafana[name=grafana]")
    hinted = apply(path, ["sutazai/backend=app.sidecars[name=backend]"], capsys)  # the hint works as given
    assert {c["key"] for c in hinted["changes"]} >= {"app.sidecars[name=backend].resources.limits.memory"}


def test_an_item_and_its_parent_are_written_in_one_run_and_an_item_holds_one_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """backend (found by its key) gets resources after its list, whose last item gets its own: both
    blocks land at the same place in the text, the item's first; a second workload for that item is
    refused under the path it was given."""
    path = tmp_path / "values.yaml"
    text = "backend:\n  sidecars:\n  - name: e\n    image: i\n"
    path.write_text(text)
    maps = ["sutazai/frontend=backend.sidecars[0]", "sutazai/grafana=backend.sidecars[name=e]"]
    result = apply(path, maps, capsys)
    new = {c["key"]: c["new"] for c in result["changes"]}
    assert path.read_text() == text + block(4).format(
        lim=new["backend.sidecars[0].resources.limits.memory"],
        req=new["backend.sidecars[0].resources.requests.memory"],
    ) + block(2).format(
        lim=new["backend.resources.limits.memory"], req=new["backend.resources.requests.memory"]
    )
    reasons = {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}
    assert reasons["sutazai/grafana"] == "backend.sidecars[name=e].resources already holds sutazai/frontend"


def test_a_selector_value_may_hold_a_bracket_or_a_dot_when_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `]` ended the selector at the first one, so an item named "worker[gpu]" could not be picked
    path = tmp_path / "values.yaml"
    path.write_text(
        "workers:\n  - name: worker[gpu]   # the GPU pool\n    image: w:1\n"
        "  - name: worker.cpu\n    image: w:1\n  - name: worker\n    image: w:1\n"
    )
    maps = ['sutazai/ollama=workers[name="worker[gpu]"]', "sutazai/postgres=workers[name='worker.cpu']"]
    result = apply(path, maps, capsys)
    keys = sorted(c["key"] for c in result["changes"])
    assert keys == [
        f"{item}.resources.{kind}.memory"
        for item in ('workers[name="worker[gpu]"]', "workers[name=worker.cpu]")
        for kind in ("limits", "requests")
    ], keys
    data = load(path.read_text())
    assert "resources" in data["workers"][0] and "resources" in data["workers"][1]
    assert "resources" not in data["workers"][2]
    assert "  - name: worker[gpu]   # the GPU pool\n" in path.read_text()
    for ch in result["changes"]:  # the printed key is itself a path to the value written
        found = valuepath.resolve(load_rt(path.read_text()), valuepath.parse(ch["key"].rsplit(".", 1)[0]))
        assert str(found.node[ch["key"].rsplit(".", 1)[1]]) == ch["new"]
    unclosed = 'sutazai/ollama=workers[name="worker[gpu]]'
    code, _, err = run_cli(["apply", "--helm", str(path), "--map", unclosed], capsys)
    assert code == 2 and err.count("\n") == 1 and "expected an index [0], a selector" in err
