"""``--filter ancestor=IMAGE`` and images built ``FROM`` it, on the real engine. An event names the
image a container was created from, so a job started from an image built on the filter's image
was judged late, by the engine's list: a ``--rm`` job removed before the loop handled its start
was then no longer listed, and had neither rows nor events. Its ancestry is now judged at its
create from the image's parent links (``collector/ancestry.py``), and the early work applies to it:
the inspect at its create, readings from its start (``collector/early.py``)."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

import rightsize
from rightsize.collector.ancestry import Ancestry
from tests.conftest import TEST_IMAGE, TEST_LABEL
from tests.test_collect_late import _hold_loop_until_gone

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def built(docker_client: Any) -> Iterator[tuple[str, str]]:
    """(child, grandchild): images built FROM the test image, then FROM the child (classic builder,
    which records each image's parent, as ``docker build`` does without BuildKit); removed after."""
    tag = uuid.uuid4().hex[:8]
    names = (f"rightsize-test/child-{tag}:1", f"rightsize-test/grandchild-{tag}:1")
    try:
        for base, name in zip((TEST_IMAGE, names[0]), names, strict=True):
            dockerfile = f"FROM {base}\nLABEL rs-built={tag}\n".encode()
            docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=name, rm=True,
                                       labels={TEST_LABEL: "1"})
        yield names
    finally:
        for name in reversed(names):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(name, force=True)


@pytest.mark.docker
def test_ancestry_follows_the_engines_parent_links(docker_client: Any, built: tuple[str, str]) -> None:
    child, grandchild = built
    ids = {n: docker_client.api.inspect_image(n)["Id"] for n in (TEST_IMAGE, child, grandchild)}
    ancestry = Ancestry(docker_client)
    assert ancestry.descends(ids[grandchild], [TEST_IMAGE])
    assert ancestry.descends(ids[grandchild], [child])
    assert ancestry.descends(ids[child], ["no-such-image:9", child])  # an unknown name is passed over
    assert not ancestry.descends(ids[TEST_IMAGE], [child])  # a parent is no descendant
    assert not ancestry.descends(ids[child], [grandchild])
    assert not ancestry.descends(ids[child], ["no-such-image:9"])
    lineage = ancestry.lineage(ids[grandchild])
    assert lineage[0] == ids[grandchild] and lineage[-1] == ids[TEST_IMAGE]
    assert ids[child] in lineage
    # the engine's own list agrees (the judgement mirrors it)
    container = docker_client.containers.create(grandchild, ["true"], labels={TEST_LABEL: "1"})
    try:
        for name, expected in ((child, True), (TEST_IMAGE, True), (grandchild, True)):
            listed = docker_client.api.containers(all=True, filters={"ancestor": name, "id": container.id})
            assert bool(listed) == expected, name
        assert not docker_client.api.containers(all=True, filters={"ancestor": "no-such-image:9"})
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("source", ["docker", "auto"])
def test_a_rm_job_from_a_descendant_image_is_judged_at_its_create(
    run_container: Any, docker_client: Any, built: tuple[str, str], tmp_path: Path, source: str
) -> None:
    # Two --rm jobs of 2 s carrying the run's label, started while the loop is held (a busy host)
    # until both are removed: one from the grandchild (matches ancestor=child), one from the test
    # image itself (the child's parent: does not match). Before, the grandchild's job had no row
    # and no event at all.
    child, grandchild = built
    tag = uuid.uuid4().hex[:8]
    labels = {TEST_LABEL: "1", "rs-anc": tag}
    jobs: list[Any] = []
    command = ["sh", "-c", "yes >/dev/null & sleep 2"]

    def descendant() -> Any:
        return docker_client.containers.run(grandchild, command, labels=labels, detach=True, auto_remove=True,
                                            mem_limit="64m", nano_cpus=500_000_000)

    def parent() -> Any:
        return run_container("yes >/dev/null & sleep 2", labels=labels, auto_remove=True)

    on_tick = _hold_loop_until_gone(docker_client, jobs, descendant, parent)
    try:
        summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", source=source,
                                    filters=[f"label=rs-anc={tag}", f"ancestor={child}"], quiet=True,
                                    on_tick=on_tick)
    finally:
        for job in jobs:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                job.remove(force=True)
    assert summary.interrupted
    job, other = jobs
    with pytest.raises(docker.errors.NotFound):  # removed before the loop handled its start
        docker_client.api.inspect_container(job.id)
    rows = rightsize.load(tmp_path)
    assert set(rows["container_id"]) == {job.id}, rows[["container", "image"]]
    assert (rows["mem_limit"] == 64 * MiB).all() and (rows["cpu_limit"] == 0.5).all()  # its create's inspect
    assert (rows["image"] == grandchild).all() and (rows["container"] == job.name).all()
    assert rows["mem_working_set"].notna().all()  # read from its start
    cores = rows["cpu_cores"].dropna()
    assert len(cores) == 1 and 0.05 < cores.iloc[0] <= 0.6, rows  # held to its 0.5-core quota
    events = rightsize.load_events(tmp_path)
    assert {"start", "die"} <= set(events.loc[events["container_id"] == job.id, "kind"]), events
    assert not (events["container_id"] == other.id).any(), events
