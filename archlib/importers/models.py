"""Imported ONNX files as models of the registry: `onnx:<sha256>` (an upload) and `path/model.onnx`.

archlib.core.registry asks `claims` whether a name is one of these and `resolve` for its
entry, so every API, CLI and app path that takes a model name takes them too. An entry's
knobs are the input sizes the file leaves open (`height`, `width`, ...); a file with a
fixed input has none. onnx is imported only when such a name is resolved.
"""
from __future__ import annotations

import functools
import hashlib
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


@functools.lru_cache(maxsize=64)  # by content: an upload's bytes and first metadata never change (skeletons: small)
def _upload(sha: str) -> tuple[ModelEntry, OnnxModel]:
    from archlib.importers import onnx_file

    data, info = uploads.load(uploads.name_of(sha))
    m = onnx_file.read(data, name=str(info.get("filename") or f"{sha[:12]}.onnx"), max_bytes=uploads.MAX_UPLOAD_BYTES)
    if m.sha256 != sha:
        raise ArchlibError(f"the stored upload {uploads.PREFIX}{sha[:12]}… is damaged; upload the file again.")
    return _entry(uploads.name_of(sha), m, _stored_sizes(sha, m, info.get("input"))), m


@functools.lru_cache(maxsize=16)
def _file(path: str, mtime_ns: int, size: int) -> tuple[ModelEntry, OnnxModel]:
    from archlib.importers import onnx_file

    m = onnx_file.read(path)
    return _entry(path, m, None), m


def file_name(name: str) -> str:
    """The file name an imported model came from, read from the upload's description (the file is
    not parsed); user data: escape it before markup."""
    if not name.startswith(uploads.PREFIX):
        return os.path.basename(name)
    sha = uploads.sha_of(name)
    try:
        return _described_name(str(uploads.folder()), sha)
    except KeyError:  # no description (evicted): the short hash
        return f"{sha[:12]}.onnx"


@functools.lru_cache(maxsize=1024)  # a description is the first upload's and never changes: a label stays put
def _described_name(folder: str, sha: str) -> str:  # folder: in the key, as $ARCHLIB_DB may move
    return str(uploads.describe(sha, fallback=False)["filename"])


def knob_names(m: OnnxModel) -> dict[int, str]:
    """Per-sample position -> knob name, for the input sizes the file leaves open."""
    names = DIM_NAMES.get(len(m.dims), tuple(f"dim{i + 1}" for i in range(len(m.dims))))
    return {pos: names[pos] for pos in m.dynamic}


def _size_knob(name: str, default: int | None) -> Knob:
    return Knob(name, "int", default, f"input {name} (the file leaves it open)", lo=1, hi=MAX_SIDE, step=1)


def _sizes(m: OnnxModel, shape: Sequence[int]) -> dict[str, int]:
    """The open sizes of input `shape` as knob values, each checked against its knob's range."""
    out = {}
    for pos, k in knob_names(m).items():
        try:
            out[k] = _size_knob(k, None).parse(shape[pos])
        except ArchlibError as e:
            raise ArchlibError(f"{m.name}: input {','.join(map(str, shape))}: {e}") from None
    return out


def _stored_sizes(sha: str, m: OnnxModel, stored: Any) -> dict[str, int]:
    """An upload's input size as kept with it (its knob defaults); one that is missing or not allowed
    (an older archlib kept files without it) is named, never a knob without a default."""
    want = knob_names(m).values()
    try:
        return {k: _size_knob(k, None).parse(stored[k]) for k in want}
    except (ArchlibError, KeyError, TypeError):
        shown = "x".join("?" if d is None else str(d) for d in m.dims)
        raise ArchlibError(f"the stored upload {uploads.PREFIX}{sha[:12]}… ({m.name}) has no usable input size for "
                           f"its dynamic input ({shown} per sample); upload the file again, giving its input "
                           "size.") from None


def _entry(name: str, m: OnnxModel, defaults: Mapping[str, int] | None) -> ModelEntry:
    """The registry entry of a parsed file. An upload's open sizes default to the size kept with it;
    a path's (`defaults` None, the API and CLI only) have none: each call gives them (input_shape=)."""
    knobs = tuple(_size_knob(k, None if defaults is None else defaults[k]) for k in knob_names(m).values())
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
    """The knobs that give an imported model's input `input_shape` (checked against the file and the
    knobs' ranges)."""
    _, m = source(name)
    return _sizes(m, m.input_shape(_ints(name, input_shape)))


def _ints(name: str, shape: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in shape)
        if all(d >= 1 for d in out) and all(float(d) == float(v) for d, v in zip(out, shape)):
            return out
    except (TypeError, ValueError):
        pass
    raise ArchlibError(f"input_shape={shape!r} is not allowed for {os.path.basename(name)}: give the per-sample "
                       "shape as positive integers, e.g. (3, 224, 224).")


def keep_file(path: str, sizes: Mapping[str, Any] | None = None) -> str:
    """Keep an ONNX file among the uploads as `upload` keeps one (only once archlib can cost it, at the
    open input sizes `sizes`, e.g. {"height": 224, "width": 224}, kept as its defaults); its
    `onnx:<sha256>` name. A file the uploads cannot keep (over MAX_UPLOAD_BYTES, or with its weights
    in files beside it) is refused: a measurement under its path would not read back anywhere."""
    from archlib.importers import onnx_file

    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
    except OSError as e:
        raise ArchlibError(f"{path}: the file cannot be read ({e.strerror or e}).") from None
    if size > uploads.MAX_UPLOAD_BYTES:
        raise _not_kept(p.name, f"it is {size / 2**20:,.1f} MiB, over the {uploads.MAX_UPLOAD_BYTES / 2**20:,.0f} "
                                "MiB an upload may be")
    m = guarded(path, onnx_file.read, p)
    data = p.read_bytes()
    if guarded(path, onnx_file.has_external, data):
        raise _not_kept(p.name, "its weights are in files beside it (export with external_data=False)")
    if hashlib.sha256(data).hexdigest() != m.sha256:
        raise ArchlibError(f"{p.name}: the file changed while it was read; try again.")
    names = knob_names(m)
    given = [(sizes or {}).get(names[i]) if i in names else d for i, d in enumerate(m.dims)]
    return _keep(data, m, None if None in given else given)


def _not_kept(name: str, why: str) -> ArchlibError:
    return ArchlibError(f"{name}: {why}, so it cannot be kept among the uploads, and a measurement is only stored for "
                        "a model kept there (onnx:<sha256>, so that it reads back); summary and graph take the file "
                        "as it is.")


def upload(data: bytes, filename: str, *, input_shape: Sequence[int] | None = None) -> str:
    """Import uploaded bytes and keep them only when they import cleanly; the model's `onnx:<sha256>`
    name. Its knobs default to the input size of its first upload (kept: a link never changes meaning;
    `shape_knobs` gives the knobs of another size)."""
    from archlib.importers import onnx_file

    m = guarded(filename, onnx_file.read, data, name=os.path.basename(filename) or "upload.onnx",
                max_bytes=uploads.MAX_UPLOAD_BYTES)
    return _keep(data, m, None if input_shape is None else _ints(filename, input_shape))


def _keep(data: bytes, m: OnnxModel, given: Sequence[int] | None) -> str:
    """Keep `m` once it lowers at input `given` (the file's own where fixed), with that size."""
    shape = m.input_shape(given)  # a dynamic input without a size raises here
    sizes = _sizes(m, shape)
    guarded(m.name, _ir, m, shape)  # anything archlib cannot cost raises here: nothing is kept
    return uploads.add(data, m.sha256, filename=m.name, meta={"input": sizes})
