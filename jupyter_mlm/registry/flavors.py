"""Model flavors: recognise what the user registers, turn it into bytes, and back.

Libraries are detected by the class's module (``type(obj).__mro__``), never imported to find out,
so registering a scikit-learn model does not pay for importing torch. Native formats are preferred
over pickle where the library has one (XGBoost UBJSON, LightGBM text, ONNX protobuf, torch
``state_dict`` loaded with ``weights_only``), because loading them cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import IntegrityError, UsageError
from .names import check_filename

# Formats whose loading cannot run code (given a library without known flaws); pickle and joblib
# can, and a torch file only with weights_only (which is how it is loaded here).
SAFE_SERIALIZERS = ("xgboost", "lightgbm", "onnx", "skops", "torch", "file", "tar")

FLAVORS = ("sklearn", "xgboost", "lightgbm", "pytorch", "onnx", "skops", "pickle", "joblib", "file", "directory")
PICKLE_SERIALIZERS = ("pickle", "joblib")

_FILE_FLAVORS = {
    ".onnx": ("onnx", "onnx"),
    ".pkl": ("pickle", "pickle"),
    ".pickle": ("pickle", "pickle"),
    ".joblib": ("joblib", "joblib"),
    ".skops": ("skops", "skops"),
    ".pt": ("pytorch", "torch"),
    ".pth": ("pytorch", "torch"),
    ".ubj": ("xgboost", "xgboost"),
}


@dataclass(frozen=True)
class Serialized:
    data: bytes
    flavor: str
    serializer: str
    filename: str


def _roots(obj: Any) -> set[str]:
    return {(cls.__module__ or "").split(".")[0] for cls in type(obj).__mro__}


def detect_flavor(obj: Any) -> str:
    """The flavor of an in-memory model, from the modules its classes come from."""
    roots = _roots(obj)
    if "xgboost" in roots:
        return "xgboost"
    if "lightgbm" in roots:
        return "lightgbm"
    if "torch" in roots:
        return "pytorch"
    if isinstance(obj, dict) and obj and all("torch" in _roots(v) for v in obj.values()):
        return "pytorch"  # a state_dict
    if "onnx" in roots and type(obj).__name__ == "ModelProto":
        return "onnx"
    if "sklearn" in roots:
        return "sklearn"
    return "pickle"


# The library a native flavor needs, and the package an object of it comes from.
_NATIVE = {"xgboost": ("xgboost", "xgboost"), "lightgbm": ("lightgbm", "lightgbm"), "pytorch": ("torch", "torch"),
           "onnx": ("onnx", "onnx"), "skops": ("skops", None), "sklearn": ("sklearn", "sklearn")}  # fmt: skip


def _check_fits(obj: Any, flavor: str) -> None:
    """A flavor asked for explicitly must be installed and fit the object, said in one line."""
    if flavor not in _NATIVE:
        return
    import importlib.util

    module, root = _NATIVE[flavor]
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"flavor {flavor!r} needs {module}, which is not installed here: pip install {module}")
    detected = detect_flavor(obj)
    fits = root is None or root in _roots(obj) or (flavor == "pytorch" and detected == "pytorch")
    if not fits:
        article = "an" if flavor[0] in "aeiou" else "a"
        raise UsageError(
            f"a {type(obj).__name__} is not {article} {flavor} model (it looks like {detected}); "
            f"leave flavor out to store it as {detected}"
        )


def serialize(obj: Any, flavor: str | None = None) -> Serialized:
    """Bytes for an in-memory model, in the flavor's native format where there is one."""
    if flavor is not None and flavor in FLAVORS:
        _check_fits(obj, flavor)
    flavor = flavor or detect_flavor(obj)
    if flavor not in FLAVORS or flavor in ("file", "directory"):
        raise UsageError(f"flavor {flavor!r} cannot be used for an object; flavors: {', '.join(FLAVORS[:8])}")
    if flavor == "xgboost":
        import xgboost

        if isinstance(obj, xgboost.Booster):
            return Serialized(bytes(obj.save_raw(raw_format="ubj")), flavor, "xgboost", "Booster.ubj")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "model.ubj")
            obj.save_model(path)
            return Serialized(path.read_bytes(), flavor, "xgboost", f"{type(obj).__name__}.ubj")
    if flavor == "lightgbm":
        import lightgbm

        if isinstance(obj, lightgbm.Booster):
            return Serialized(obj.model_to_string().encode(), flavor, "lightgbm", "model.txt")
        return Serialized(_joblib_bytes(obj), flavor, "joblib", "model.joblib")
    if flavor == "pytorch":
        import torch

        state = obj.state_dict() if isinstance(obj, torch.nn.Module) else obj
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return Serialized(buffer.getvalue(), flavor, "torch", "state_dict.pt")
    if flavor == "onnx":
        return Serialized(obj.SerializeToString(), flavor, "onnx", "model.onnx")
    if flavor == "skops":
        import skops.io

        return Serialized(skops.io.dumps(obj), flavor, "skops", "model.skops")
    if flavor in ("sklearn", "joblib"):
        return Serialized(_joblib_bytes(obj), flavor, "joblib", "model.joblib")
    try:
        return Serialized(pickle.dumps(obj, protocol=5), "pickle", "pickle", "model.pkl")
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UsageError(f"cannot pickle {type(obj).__name__}: {exc}; register a saved file instead") from None


def _joblib_bytes(obj: Any) -> bytes:
    try:
        import joblib
    except ImportError:
        return pickle.dumps(obj, protocol=5)
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def serialize_path(path: Path, flavor: str | None = None) -> Serialized:
    """Bytes for a model saved on disk: a file as it is, a folder as a reproducible tar."""
    if path.is_dir():
        return Serialized(_tar(path), flavor or "directory", "tar", plain_filename(path.name))
    detected, serializer = _FILE_FLAVORS.get(path.suffix.lower(), ("file", "file"))
    return Serialized(path.read_bytes(), flavor or detected, serializer, plain_filename(path.name))


def plain_filename(name: str) -> str:
    """The name a registered file keeps, reduced to what ``check_filename`` accepts."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\- ]", "_", name)[:250].lstrip(".- ") or "model"
    return check_filename(cleaned if cleaned[0].isalnum() or cleaned[0] == "_" else f"_{cleaned}")


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    root = folder.resolve()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            if not file.resolve().is_relative_to(root):
                raise UsageError(f"{os.fspath(file)!r} links outside {os.fspath(folder)!r}; copy it in instead")
            data = file.read_bytes()
            # Fixed metadata: the same folder always gives the same digest.
            info = tarfile.TarInfo(file.relative_to(folder).as_posix())
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deserialize(data: bytes, flavor: str, serializer: str, filename: str, cache_dir: Path, trusted: bool) -> Any:
    """The model object back from its bytes (already verified against the version's digest)."""
    if serializer == "pickle":
        return pickle.loads(data)
    if serializer == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if serializer == "xgboost":
        import xgboost

        cls = getattr(xgboost, Path(filename).stem, None)
        model = cls() if isinstance(cls, type) and Path(filename).stem != "Booster" else xgboost.Booster()
        model.load_model(bytearray(data))
        return model
    if serializer == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_str=data.decode())
    if serializer == "torch":
        import torch

        return torch.load(io.BytesIO(data), weights_only=True)
    if serializer == "skops":
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        if untrusted and not trusted:
            raise UsageError(
                f"this skops file holds types that are not trusted by default ({', '.join(untrusted)}); "
                "pass trusted=True if you trust its author"
            )
        return skops.io.loads(data, trusted=untrusted or None)
    if serializer == "onnx":
        try:
            import onnx
        except ImportError:
            return _materialise(data, filename, cache_dir)
        return onnx.load_from_string(data)
    if serializer == "tar":
        target = cache_dir / check_filename(filename)
        if not target.exists():
            partial = Path(tempfile.mkdtemp(dir=cache_dir))
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                _extract_confined(tar, partial)
            os.replace(partial, target)
        return target
    return _materialise(data, filename, cache_dir)


def _extract_confined(tar: tarfile.TarFile, into: Path) -> None:
    """Extract only regular files and folders whose names stay inside ``into``: no absolute
    names, no '..', no links (in or out), no devices or FIFOs; checked before anything is written."""
    members = tar.getmembers()
    for member in members:
        parts = PurePosixPath(member.name).parts
        bad = (
            member.name.startswith(("/", "\\")) or "\\" in member.name or ".." in parts or not parts
            or any(":" in p or any(ord(c) < 32 for c in p) for p in parts)
        )  # fmt: skip
        if bad or not (member.isfile() or member.isdir()):
            kind = "link" if member.issym() or member.islnk() else "entry"
            raise IntegrityError(f"model archive has an unsafe {kind} {member.name!r}; refusing to extract it")
    for member in members:
        target = into.joinpath(*PurePosixPath(member.name).parts)
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None
        with source, open(target, "xb") as out:
            shutil.copyfileobj(source, out)


def _materialise(data: bytes, filename: str, cache_dir: Path) -> Path:
    target = cache_dir / check_filename(filename)
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=cache_dir)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return target
