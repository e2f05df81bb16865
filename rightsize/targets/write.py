"""Writing patched files safely: checks first, unified diffs, atomic replace keeping the mode, backups."""

from __future__ import annotations

import difflib
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

from rightsize.atomic import replace_text, stage_text
from rightsize.errors import RightsizeError


def check_writable(path: Path, backup: bool = False) -> None:
    """Refuse before any work a file that cannot (or, by its mode, should not) be written.

    Root ignores permission bits, so a file without any write bit is treated as read-only on purpose.
    With ``backup``, a ``FILE.bak`` that is a folder is refused too (the copy went inside it).
    """
    real = Path(os.path.realpath(path))
    bak = real.with_name(real.name + ".bak")
    if backup and (bak.is_dir() or (bak.exists() and not bak.is_file())):
        raise RightsizeError(f"{path}: cannot keep the backup {bak}: it is a folder; nothing written")
    if backup and bak.is_symlink() and os.path.realpath(bak) == str(real):
        raise RightsizeError(f"{path}: cannot keep the backup {bak}: it links to the file itself")
    if backup and bak.is_symlink() and not bak.exists() and not _creatable(bak):  # a loop, a missing folder
        raise RightsizeError(f"{path}: cannot keep the backup {bak}: a link that leads nowhere")
    try:
        st = real.stat()
    except OSError as exc:
        raise RightsizeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise RightsizeError(f"{path}: not a regular file")
    if not st.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise RightsizeError(f"{path}: file is read-only; nothing written")
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise RightsizeError(f"{path}: its directory is not writable (needed for an atomic replace)")


def _creatable(link: Path) -> bool:
    """Whether copying to a dangling ``link`` would create its target (its folder exists)."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        target = Path(os.path.realpath(link))
    except OSError:  # a loop
        return False
    return target.parent.is_dir()


def unified_diff(path: Path, old: str, new: str) -> str:
    """``git diff``-style text of what would change (empty when nothing would).

    difflib's own ``unified_diff`` treats lines that repeat a lot (blank lines, ``limits:``) as junk
    in files over 200 lines and then shows unchanged lines as removed and added; the matcher here
    runs without that heuristic, so the diff shows only what the writer changed.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    name_a = str(path) if path.is_absolute() else f"a/{path}"
    name_b = str(path) if path.is_absolute() else f"b/{path}"
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        if not out:
            out += [f"--- {name_a}\n", f"+++ {name_b}\n"]
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [" " + ln for ln in a[a1:a2]]
                continue
            out += ["-" + ln for ln in a[a1:a2]]
            out += ["+" + ln for ln in b[b1:b2]]
    return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in out)


def _range(start: int, stop: int) -> str:
    """Unified diff line range: ``start,length`` (1-based; an empty range names the line before)."""
    length = stop - start
    first = start + 1
    if length == 1:
        return f"{first}"
    if not length:
        first -= 1
    return f"{first},{length}"


def atomic_write(path: Path, text: str, *, backup: bool = False) -> Path | None:
    """Replace path's content atomically (temp file in the same folder + rename), mode kept.

    A symlink is followed, so the link stays a link. With backup the old bytes go to ``<name>.bak``
    first. Returns the backup path, if any.
    """
    real = Path(os.path.realpath(path))
    mode = stat.S_IMODE(real.stat().st_mode)
    bak = make_backup(path) if backup else None
    try:
        replace_text(real, text, mode=mode, newline="")
    except OSError as exc:  # a full disk: the file is as it was (only the temporary one was written)
        why = exc.strerror or exc
        raise RightsizeError(f"{path}: cannot write it: {why}; the file is unchanged") from None
    return bak


def write_all(files: Sequence[tuple[Path, str]]) -> None:
    """Replace several files as one change: every new text is written beside its file (temporary
    name, flushed) before the first rename, so a write the disk refuses (full, a quota, a size limit)
    leaves every file as it was, not the stack half-applied. Renames within a folder do not fill a disk."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            real = Path(os.path.realpath(path))
            try:
                tmp = stage_text(real, text, mode=stat.S_IMODE(real.stat().st_mode), newline="")
            except OSError as exc:
                why = exc.strerror or exc
                raise RightsizeError(f"{path}: cannot write it: {why}; no file changed") from None
            staged.append((tmp, real))
        while staged:
            tmp, real = staged[0]
            os.replace(tmp, real)
            staged.pop(0)
    finally:
        for tmp, _ in staged:  # not renamed: an error above
            tmp.unlink(missing_ok=True)


def make_backup(path: Path) -> Path:
    """Copy the file's bytes to ``<name>.bak`` beside it (a symlink followed); a copy that fails is
    one error line (the writers make every backup before the first write)."""
    real = Path(os.path.realpath(path))
    bak = real.with_name(real.name + ".bak")
    try:
        shutil.copy2(real, bak)
    except shutil.SameFileError:
        raise RightsizeError(f"{path}: cannot keep the backup {bak}: it links to the file itself") from None
    except OSError as exc:
        raise RightsizeError(f"{path}: cannot keep the backup {bak}: {exc.strerror or exc}") from None
    return bak
