"""Imported ONNX files as models of the registry: `onnx:<sha256>` (an upload) and `path/model.onnx`.

archlib.core.registry asks `claims` whether a name is one of these and `resolve` for its
entry, so every API, CLI and app path that takes a model name takes them too. An entry's
knobs are the input sizes the file leaves open (`height`, `width`, ...); a file with a
fixed input has none. onnx is imported only when such a name is resolved.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlib.core.ir import IR
from archlib.core.knobs import Knob
from archlib.core.registry import Family, ModelEntry
from archlib.errors import ArchlibError
from archlib.importers import uploads

if TYPE_CHECKING:
    from archlib.importers.onnx_file import OnnxModel

#: knob names of open input sizes, by per-sample rank
DIM_NAMES = {3: ("channels", "height", "width"), 2: ("tokens", "width"), 1: ("features",)}
MAX_SIDE = 4096
FAMILY = "ONNX file"


def claims(name: str) -> bool:
    """An upload (`onnx:...`) or a path ending in .onnx."""
    return isinstance(name, str) and (name.startswith(uploads.PREFIX) or name.lower().endswith(".onnx"))


def resolve(name: str) -> ModelEntry:
    """The registry entry of an imported model name (parsed once per content)."""
    return source(name)[0]


def source(name: str) -> tuple[ModelEntry, OnnxModel]:
    """(entry, parsed file) of `onnx:<sha256>` or a path to an .onnx file."""
    if name.startswith(uploads.PREFIX):
        return guarded(name, _upload, uploads.sha_of(name))
    path = Path(name).expanduser()
    try:
        st = path.stat()
    except OSError as e:
        raise ArchlibError(f"{name}: the file cannot be read ({e.strerror or e}).") from None
    return guarded(name, _file, str(path), st.st_mtime_ns, st.st_size)


def guarded(label: str, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """fn(*args), where any failure is one line naming the file (a file is data: never a traceback)."""
    name = label
    try:
        return fn(*args, **kwargs)
    except ArchlibError:
        raise
    except Exception as e:  # noqa: BLE001  (whatever a malformed file makes onnx or the importer raise)
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ArchlibError(f"{os.path.basename(name)}: the ONNX importer could not read it "
                           f"({type(e).__name__}: {first}).") from e


@functools.lru_cache(maxsize=16)
def _upload(sha: str) -> tuple[ModelEntry, OnnxModel]:
    from archlib.importers import onnx_file

    data, info = uploads.load(uploads.name_of(sha))
    m = onnx_file.read(data, name=info.get("filename"), max_bytes=uploads.MAX_UPLOAD_BYTES)
    if m.sha256 != sha:
        raise ArchlibError(f"the stored upload {uploads.PREFIX}{sha[:12]}… is damaged; upload the file again.")
    return _entry(uploads.name_of(sha), m, info.get("input") or {}), m


@functools.lru_cache(maxsize=16)
def _file(path: str, mtime_ns: int, size: int) -> tuple[ModelEntry, OnnxModel]:
    from archlib.importers import onnx_file

    m = onnx_file.read(path)
    return _entry(path, m, {}), m


def file_name(name: str) -> str:
    """The file name an imported model came from (user data: escape it before markup)."""
    return source(name)[1].name


def knob_names(m: OnnxModel) -> dict[int, str]:
    """Per-sample position -> knob name, for the input sizes the file leaves open."""
    names = DIM_NAMES.get(len(m.dims), tuple(f"dim{i + 1}" for i in range(len(m.dims))))
    return {pos: names[pos] for pos in m.dynamic}


def _entry(name: str, m: OnnxModel, defaults: Mapping[str, Any]) -> ModelEntry:
    knobs = tuple(Knob(k, "int", defaults.get(k), f"input {k} (the file leaves it open)", lo=1, hi=MAX_SIDE, step=1)
                  for k in knob_names(m).values())
    shown = "x".join("?" if d is None else str(d) for d in m.dims)
    family = Family(FAMILY, knobs, functools.partial(_lower, m), paper=f"imported from {m.name}",
                    description=f"{m.name}: {_size(m.size)}, input {shown} per sample, "
                                f"{m.producer or 'unknown producer'}")
    return ModelEntry(name, family, {}, family.description)


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


def _lower(m: OnnxModel, cfg: Mapping[str, Any]) -> IR:
    given = None
    if m.dynamic:
        names = knob_names(m)
        if any(cfg.get(k) is None for k in names.values()):
            m.input_shape(None)  # raises: the input is dynamic, give its size
        given = [cfg[names[i]] if i in names else d for i, d in enumerate(m.dims)]
    return guarded(m.name, _ir, m, m.input_shape(given))


@functools.lru_cache(maxsize=32)
def _ir(m: OnnxModel, shape: tuple[int, ...]) -> IR:
    from archlib.importers.onnx_ops import OnnxLowering

    return OnnxLowering(m, shape).run()


def shape_knobs(name: str, input_shape: Sequence[int]) -> dict[str, int]:
    """The knobs that give an imported model's input `input_shape` (checked against the file)."""
    _, m = source(name)
    shape = m.input_shape(_ints(name, input_shape))
    return {k: shape[pos] for pos, k in knob_names(m).items()}


def _ints(name: str, shape: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in shape)
        if all(d >= 1 for d in out) and all(float(d) == float(v) for d, v in zip(out, shape)):
            return out
    except (TypeError, ValueError):
        pass
    raise ArchlibError(f"input_shape={shape!r} is not allowed for {os.path.basename(name)}: give the per-sample "
                       "shape as positive integers, e.g. (3, 224, 224).")


def keep_file(path: str) -> str:
    """Keep a self-contained ONNX file among the uploads and return its `onnx:<sha256>` name (the path
    itself when its weights live in files beside it, which the uploads cannot keep)."""
    from archlib.importers import onnx_file

    m = onnx_file.read(path)
    data = Path(path).read_bytes()
    if onnx_file.has_external(data) or len(data) > uploads.MAX_UPLOAD_BYTES:
        return path
    return uploads.add(data, m.sha256, filename=m.name)


def upload(data: bytes, filename: str, *, input_shape: Sequence[int] | None = None) -> str:
    """Import uploaded bytes and keep them only when they import cleanly; the model's `onnx:<sha256>`
    name, whose knobs default to the input size used here."""
    from archlib.importers import onnx_file

    m = guarded(filename, onnx_file.read, data, name=os.path.basename(filename) or "upload.onnx",
                max_bytes=uploads.MAX_UPLOAD_BYTES)
    shape = m.input_shape(None if input_shape is None else _ints(filename, input_shape))
    guarded(m.name, _ir, m, shape)  # anything archlib cannot cost raises here: nothing is kept
    knobs = {k: shape[pos] for pos, k in knob_names(m).items()}
    name = uploads.add(data, m.sha256, filename=m.name, meta={"input": knobs})
    _upload.cache_clear()  # its knob defaults may have changed
    return name
