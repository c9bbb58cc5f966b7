"""Files the tool writes: whole or not at all, and never over one of its own inputs.

Every file is written to a temporary file in its destination folder, flushed and synced to disk,
then renamed over the destination, so a scan killed or failing mid-write leaves the file that was
there before, byte for byte, and never a torn one. Before any work starts, `check_outputs` refuses
an output that is the same file as an input or as another output, or whose folder cannot be
written: a collection that took hours is never lost to a typo.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Optional

from guardrails.errors import UserError

TEMPORARY_SUFFIX = ".tmp"


def destination(path: Path) -> Path:
    """Where writing `path` lands: through a symbolic link to the file it names, so that replacing
    the file keeps the link (and writes where the link points, as a plain write would)."""
    return Path(os.path.realpath(path))


@contextmanager
def replaced(path: str | Path, what: str = "file", buffering: int = -1) -> Iterator[BinaryIO]:
    """A binary file (buffered as `open` buffers) to write the whole of `path` into; it becomes
    `path` only when the block ends without an error. Missing folders are created. Errors are one
    line naming the file and saying what it is."""
    path = Path(path)
    target = destination(path)
    if _special(path):
        # A device, pipe or socket (-o /dev/stdout, a named pipe): nothing to keep, and renaming a
        # file over it would replace the device itself. Opened by the name given: the kernel
        # follows links such as /dev/stdout to a pipe that no path names.
        try:
            with open(path, "wb", buffering=buffering) as fh:
                yield fh
        except OSError as exc:
            raise UserError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
        return
    temporary: Optional[str] = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX)
        with os.fdopen(fd, "wb", buffering=buffering) as fh:
            yield fh
            fh.flush()
            os.fchmod(fh.fileno(), _mode_for(target))
            os.fsync(fh.fileno())
        os.replace(temporary, target)
        temporary = None
        _sync_folder(target.parent)
    except OSError as exc:
        raise UserError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _special(target: Path) -> bool:
    """An existing destination that is not a regular file (nor a folder)."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_text(path: str | Path, text: str, what: str = "file") -> None:
    """Write `text` (UTF-8) as the whole of `path`, atomically (see `replaced`)."""
    with replaced(path, what) as fh:
        fh.write(text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes, what: str = "file") -> None:
    """Write `data` as the whole of `path`, atomically (see `replaced`)."""
    with replaced(path, what) as fh:
        fh.write(data)


def _mode_for(target: Path) -> int:
    """The permissions a file written in place would have had: the old file's, else those the
    process's umask gives a new file (mkstemp makes its file private to the owner)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every system can open a folder for this."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def identity(path: Path) -> tuple:
    """What tells two names of one file apart from two files: device and inode when it exists
    (through links, hard or symbolic), else the fully resolved path it would be created at."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.normcase(os.path.realpath(path)))
    return ("inode", st.st_dev, st.st_ino)


def check_outputs(outputs: Iterable[tuple[str, Optional[Path]]], inputs: Iterable[tuple[str, Optional[Path]]]) -> None:
    """Refuse, in one line, before any work starts: an output that is the same file as an input or
    as another output, an output that is a folder, or one whose folder cannot be written.

    `outputs` and `inputs` are (how the command line names it, path) pairs; None paths are skipped."""
    read = [(label, Path(path)) for label, path in inputs if path is not None]
    read_ids = {identity(path): (label, path) for label, path in read}
    written: dict[tuple, tuple[str, Path]] = {}
    for label, path in outputs:
        if path is None:
            continue
        path = Path(path)
        key = identity(path)
        if key in read_ids:
            input_label, input_path = read_ids[key]
            raise UserError(f"{label} {path} is the same file as the {input_label} {input_path}; "
                            f"refusing to overwrite an input")
        if key in written:
            other_label, other_path = written[key]
            raise UserError(f"{label} {path} is the same file as {other_label} {other_path}; give each its own file")
        written[key] = (label, path)
        _check_writable(label, path)


def _check_writable(label: str, path: Path) -> None:
    if _special(path):
        if not os.access(path, os.W_OK):
            raise UserError(f"{label} {path}: cannot write (permission denied)")
        return
    target = destination(path)
    if target.is_dir():
        raise UserError(f"{label} {path} is a folder; name a file")
    folder = target.parent
    while not folder.exists():  # missing folders are created when the file is written
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{label} {path}: {folder} is not a folder")
    if folder == target.parent:
        try:  # what a write will do: create a file beside the destination
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise UserError(f"{label} {path}: cannot write in {folder} ({exc.strerror or exc})") from None
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{label} {path}: cannot create folders in {folder} (permission denied)")
