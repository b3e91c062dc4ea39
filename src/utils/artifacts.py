"""Atomic, pickle-free artifacts: tensors plus their metadata in one `.pt`, and a JSON sidecar.

Every artifact is a `torch.save`d dict `{"meta": {...}, "tensors": {...}}` read back with
`weights_only=True`. It is written to a temporary file and renamed, so an interrupted run never
leaves a half-written file. The sidecar `<name>.json` repeats the metadata for people and tools;
the copy inside the `.pt` is the one that is checked when loading.
"""
import functools
import glob
import json
import os
import subprocess
import tempfile
from pathlib import Path

import torch

from .errors import UserError

FORMAT_VERSION = 1


@functools.lru_cache(maxsize=1)
def code_version():
    """The git commit of this checkout (with '+dirty' when it has local changes), else 'unknown'."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(tmp) on a temporary file beside `path`, then rename it into place (readable as usual)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a killed earlier write of this file
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path, obj):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
    atomic_write(path, write)


def load_json(path, what="file", hint=None):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} not found: {path}" + (f"; run: {hint}" if hint else ""))
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{what} {path} is unreadable ({err.__class__.__name__})" + (f"; re-run: {hint}" if hint else ""))


def save_artifact(path, tensors, meta):
    """Write `tensors` (a dict of tensors) with `meta` (JSON-able) atomically, plus the JSON sidecar."""
    meta = {**meta, "format_version": FORMAT_VERSION, "code_version": code_version()}
    payload = {"meta": meta, "tensors": {k: v.detach().cpu().contiguous() for k, v in tensors.items()}}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    save_json(Path(path).with_suffix(".json"), meta)
    return meta


def load_artifact(path, expect=None, what="artifact", hint=None):
    """Read an artifact written by `save_artifact`; refuse missing, corrupt or mismatched files.

    `expect` maps metadata keys to the values this run needs (e.g. the training settings); a file
    made with other values is stale and refused with a message naming the key.
    """
    path = Path(path)
    again = f"; run: {hint}" if hint else ""
    if not path.exists():
        raise UserError(f"{what} not found: {path}{again}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta, tensors = payload["meta"], payload["tensors"]
    except Exception as err:  # any unpickling/format problem means the file cannot be trusted
        raise UserError(f"{what} {path} is corrupt or unreadable ({err.__class__.__name__}){again}") from None
    if not isinstance(meta, dict) or not isinstance(tensors, dict) or \
            not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
        raise UserError(f"{what} {path} is not an artifact of this project (its metadata or tensors have the wrong "
                        f"type){again}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{what} {path} has format version {meta.get('format_version')}, expected {FORMAT_VERSION}{again}")
    for key, want in (expect or {}).items():
        have = meta.get(key)
        if _normalise(have) != _normalise(want):
            raise UserError(f"{what} {path} is stale: it was made with {key}={have!r}, this run needs {want!r}{again}")
    return tensors, meta


def matches(path, expect):
    """Whether a readable artifact at `path` exists and was made with `expect` (for skip-if-current)."""
    try:
        load_artifact(path, expect)
        return True
    except UserError:
        return False


def _normalise(value):
    return json.loads(json.dumps(value, sort_keys=True, default=str))
