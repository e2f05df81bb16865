"""A compose file holding several YAML documents (``---`` between them), read as Docker Compose v2 reads it.

compose-go (loader.go, loadYamlFile) decodes the documents of one file in turn and treats each as a
file of its own merged over the ones before: its ``include`` and ``extends`` are applied in its own
load (an ``extends`` cannot name a service of another document: "service not found"), its ``!reset``
drops what the earlier documents set, and the last ``name:`` wins. An empty document is refused
("top-level object must be a mapping"). Checked with Docker Compose 2.40.3 (test_compose_v2_config).

Each document becomes a ``Doc`` of its own with the whole file's text: ruamel.yaml's positions count
from the start of the stream, so a document's line and column still point into the file. Writing is
another matter (two documents patched apart would overwrite each other): ``apply`` refuses such a file.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml.error import YAMLError

from rightsize.errors import RightsizeError
from rightsize.targets.yaml import Doc, detect_indent, load_error, loadable, make_yaml, plain_yaml, read

_SEVERAL = "found another document"  # ruamel.yaml's ComposerError for a second document


def read_documents(path: Path) -> list[Doc]:
    """The file's documents in order (one ``Doc`` for a plain compose file)."""
    try:
        return [read(path)]
    except RightsizeError as exc:
        if _SEVERAL not in str(exc):
            raise
    text = path.read_text(encoding="utf-8")  # (read has decoded it once already)
    source = str(path)
    try:
        trees = list(make_yaml().load_all(loadable(text)))
        list(plain_yaml().load_all(loadable(text)))  # what compose reads: plain data (see yaml.parse)
    except YAMLError as exc:
        raise load_error(exc, source) from None
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    indent = detect_indent(text)
    return [Doc(source, text, tree, indent, tuple(starts)) for tree in trees]
