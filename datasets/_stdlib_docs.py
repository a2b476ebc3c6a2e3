"""Collect the docstrings of Python's standard library: the source of the ``stdlib_docs`` set.

Walks the public standard-library modules of the running interpreter (``sys.stdlib_module_names``
and their submodules, skipping tests, GUI/IDE packages, private modules and modules with side
effects), and records every module, class, function, method and property that has its own
docstring.
The order is sorted and stable, so the same Python build gives the same rows.

Run alone to print a summary: ``python datasets/_stdlib_docs.py``. The build runs it as
``python -I -S datasets/_stdlib_docs.py --json`` so that no site-packages (and no ``.pth`` hook
that patches the standard library) can change what is found.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import inspect
import io
import pkgutil
import re
import sys
import sysconfig
import types
import warnings
from pathlib import Path

# Whole subtrees that are tests, GUIs, IDEs, tooling, shims or have import side effects.
SKIP_PARTS = frozenset(
    {
        "test",
        "tests",
        "idle_test",
        "idlelib",
        "tkinter",
        "turtle",
        "turtledemo",
        "lib2to3",
        "ensurepip",
        "pydoc_data",
        "distutils",
        "antigravity",
        "this",
        "__main__",
        "msilib",
        "winreg",
        "winsound",
        "msvcrt",
        "nt",
        "posix",
        "xxsubtype",
        "xxlimited",
        "xxlimited_35",
        "_msi",
        "macholib",
    }
)
# Submodules with boilerplate docstrings (one generated codec module per encoding).
SKIP_SUBMODULES_OF = frozenset({"encodings"})
# Functions and classes implemented in these modules are listed under the public module.
ALIASES = {"posix": "os", "_collections_abc": "collections.abc"}
# Deprecated in Python 3.11 (PEP 594 and older deprecations) and removed by 3.13.
DEPRECATED_MODULES = frozenset(
    {
        "aifc",
        "asynchat",
        "asyncore",
        "audioop",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "imghdr",
        "imp",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "pipes",
        "smtpd",
        "sndhdr",
        "spwd",
        "sunau",
        "telnetlib",
        "uu",
        "xdrlib",
    }
)
_DEPRECATED_TEXT = re.compile(r"\bdeprecated\b", re.IGNORECASE)
_MACHINE_STRINGS = tuple({sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path.home())} - {"", "/"})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SIG_LINE = re.compile(r"^[\w.]+\(.*\)(\s*->\s*.*)?$")
SUMMARY_CHARS = 300

FIELDS = [
    "module",
    "kind",
    "name",
    "qualname",
    "parent",
    "signature",
    "n_params",
    "first_line",
    "doc_length",
    "deprecated",
    "tags",
    "text",
]


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    base = Path(paths["stdlib"]).resolve()
    return (str(base), str(base / "lib-dynload"))


def _skipped(name: str) -> bool:
    parts = name.split(".")
    if any(p in SKIP_PARTS or p.startswith("_") for p in parts):
        return True
    return len(parts) > 1 and parts[0] in SKIP_SUBMODULES_OF


def _import(name: str) -> types.ModuleType | None:
    """Import quietly; None when the module is missing here or fails to import."""
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except (Exception, SystemExit):  # noqa: BLE001 - a module that will not import is skipped
        return None


def _in_stdlib(module: types.ModuleType) -> bool:
    file = getattr(module, "__file__", None)
    if file is None:  # compiled into the interpreter
        return module.__name__ in sys.builtin_module_names
    return str(Path(file).resolve()).startswith(_stdlib_dirs())


def module_names() -> list[str]:
    """Sorted names of the public standard-library modules that import cleanly here."""
    found: set[str] = set()
    for top in sorted(sys.stdlib_module_names):
        if _skipped(top):
            continue
        module = _import(top)
        if module is None or not _in_stdlib(module):
            continue
        found.add(top)
        if hasattr(module, "__path__") and top not in SKIP_SUBMODULES_OF:
            for info in pkgutil.walk_packages(module.__path__, prefix=top + ".", onerror=lambda _name: None):
                if _skipped(info.name):
                    continue
                sub = _import(info.name)
                if sub is not None and _in_stdlib(sub):
                    found.add(info.name)
    return sorted(found)


def _own_doc(obj: object) -> str | None:
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return None
    doc = inspect.cleandoc(doc).strip()
    return doc or None


def _paragraphs(doc: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", doc) if p.strip()]


class _Opaque:
    """Stands for a default value whose repr would record this machine (paths, os.environ)."""

    def __init__(self, value: object) -> None:
        self.text = f"<{type(value).__qualname__}>"

    def __repr__(self) -> str:
        return self.text


def _machine_free(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float, complex, bytes, type, enum.Enum)):
        return True
    if isinstance(value, str):
        return not any(p in value for p in _MACHINE_STRINGS)
    if isinstance(value, (tuple, list, frozenset)):
        return len(value) <= 20 and all(_machine_free(v) for v in value)
    if isinstance(value, dict):
        return len(value) <= 20 and all(_machine_free(v) for v in [*value, *value.values()])
    return inspect.isroutine(value)


def _signature(obj: object) -> str | None:
    try:
        sig = inspect.signature(obj)
    except Exception:  # noqa: BLE001 - some C signatures cannot be evaluated
        return None
    params = [
        p if p.default is p.empty or _machine_free(p.default) else p.replace(default=_Opaque(p.default))
        for p in sig.parameters.values()
    ]
    # default values such as <object object at 0x7f..> lose their address
    return _ADDRESS.sub("", str(sig.replace(parameters=params)))


def _n_params(obj: object) -> int | None:
    try:
        params = inspect.signature(obj).parameters
    except Exception:  # noqa: BLE001 - some C signatures cannot be evaluated
        return None
    return sum(1 for p in params if p not in ("self", "cls"))


def _owner(obj: object, walked: frozenset[str]) -> str | None:
    """The public module a function or class is listed under, or None (listed elsewhere)."""
    mod = getattr(obj, "__module__", None)
    if not isinstance(mod, str):
        return None
    if mod in walked:
        return mod
    if mod in ALIASES:
        return ALIASES[mod]
    stripped = mod.lstrip("_")
    return stripped if stripped in walked else None


def _callable_tags(func: object) -> list[str]:
    tags = []
    if not isinstance(func, types.FunctionType):
        tags.append("builtin")
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        tags.append("async")
    if inspect.isgeneratorfunction(func):
        tags.append("generator")
    if getattr(func, "__isabstractmethod__", False):
        tags.append("abstract")
    return tags


def _record(
    module: str, kind: str, name: str, qualname: str, parent: str | None, obj: object, doc: str, tags: list[str]
) -> dict:
    paragraphs = _paragraphs(doc)
    signature = None if kind in ("module", "property") else _signature(obj)
    n_params = None if signature is None else _n_params(obj)
    if (
        signature is None
        and kind not in ("module", "property")
        and len(paragraphs) > 1
        and "\n" not in paragraphs[0]
        and _SIG_LINE.match(paragraphs[0])
    ):
        signature, paragraphs = paragraphs[0], paragraphs[1:]  # C docs that start "f(x) -> y"
    first_line = paragraphs[0].splitlines()[0].strip()
    first = " ".join(paragraphs[0].split())
    summary = first if len(first) <= SUMMARY_CHARS else first[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " ..."
    deprecated = module.split(".")[0] in DEPRECATED_MODULES or bool(_DEPRECATED_TEXT.search(doc))
    full = module if kind == "module" else f"{module}.{qualname}"
    tags = module.split(".") + tags + (["deprecated"] if deprecated else [])
    return {
        "module": module,
        "kind": kind,
        "name": name,
        "qualname": qualname,
        "parent": parent,
        "signature": signature,
        "n_params": n_params,
        "first_line": first_line,
        "doc_length": len(doc),
        "deprecated": deprecated,
        "tags": tags,
        "text": f"{full}: {summary}",
    }


def _is_autodoc(cls: type, doc: str) -> bool:
    """namedtuple / dataclass / Enum boilerplate such as ``Point(x, y)``."""
    return "\n" not in doc and (doc.startswith(cls.__name__ + "(") or doc == "An enumeration.")


def _is_builtin_class(cls: type) -> bool:
    """Implemented in C as a static type (Python classes are always heap types)."""
    return not cls.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE


def _methods(module: str, cls_name: str, cls: type) -> list[dict]:
    rows = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        if inspect.isdatadescriptor(member):
            doc = _own_doc(member)
            if doc is not None and not doc.startswith("Alias for field number"):
                tags = [] if isinstance(member, property) else ["builtin"]
                rows.append(_record(module, "property", name, f"{cls_name}.{name}", cls_name, member, doc, tags))
            continue
        tags = []
        if isinstance(member, (staticmethod, classmethod)):
            tags.append(type(member).__name__)
            member = member.__func__
        elif type(member).__name__ == "classmethod_descriptor":
            tags.append("classmethod")
        if not (inspect.isroutine(member)):
            continue
        doc = _own_doc(member)
        if doc is None:
            continue
        bound = getattr(cls, name, member)
        rows.append(
            _record(module, "method", name, f"{cls_name}.{name}", cls_name, bound, doc, _callable_tags(member) + tags)
        )
    return rows


def collect(modules: list[str] | None = None) -> list[dict]:
    """One record per documented module, class, function and method, in sorted order."""
    names = module_names() if modules is None else sorted(modules)
    walked = frozenset(names)
    rows: list[dict] = []
    for modname in names:
        module = _import(modname)
        if module is None:
            continue
        doc = _own_doc(module)
        if doc is not None:
            extra = ["package"] if hasattr(module, "__path__") else []
            rows.append(_record(modname, "module", modname.rsplit(".", 1)[-1], modname, None, module, doc, extra))
        names_of: dict[int, list[str]] = {}
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if _owner(obj, walked) == modname:
                names_of.setdefault(id(obj), []).append(attr)
        chosen = []  # an object exposed under several names is listed once, by its own name
        for attrs in names_of.values():
            own = getattr(getattr(module, attrs[0]), "__name__", None)
            chosen.append(own if own in attrs else attrs[0])
        for attr in sorted(chosen):
            obj = getattr(module, attr)
            doc = _own_doc(obj)
            if inspect.isclass(obj):
                if doc is not None and not _is_autodoc(obj, doc):
                    tags = ["exception"] if issubclass(obj, BaseException) else []
                    if _is_builtin_class(obj):
                        tags.append("builtin")
                    rows.append(_record(modname, "class", attr, attr, None, obj, doc, tags))
                rows.extend(_methods(modname, attr, obj))
            elif doc is not None:
                rows.append(_record(modname, "function", attr, attr, None, obj, doc, _callable_tags(obj)))
    rows.sort(key=lambda r: (r["module"], r["qualname"], r["kind"]))
    return rows


def main(argv: list[str]) -> None:
    """``--json``: print the records as JSON (what the build reads); otherwise a summary."""
    import json
    from collections import Counter

    records = collect()
    if "--json" in argv:
        sys.stdout.write(json.dumps(records))
        return
    print(len(records), "records from", len({r["module"] for r in records}), "modules")
    print(Counter(r["kind"] for r in records))


if __name__ == "__main__":
    main(sys.argv[1:])
