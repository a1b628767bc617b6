"""apepy's importer for the zip inside the executable (frozen into the interpreter).

Installed first in sys.path_hooks during start-up, ahead of zipimport. It serves
every sys.path entry inside the executable (``<exe>/Lib``, ``<exe>/Lib/site-packages``,
a package's directory) from an index apepy writes into the zip when it builds or
bundles the file: one marshal'd dict of member → (header offset, length, method),
found through the archive comment. So start-up reads no central directory, and
each module is a slice of a read-only mapping of the file plus ``marshal.loads``.

The mapping shares no file offset and needs no lock, so processes forked from one
another (pre-forked servers, multiprocessing's fork and forkserver) import at the
same time without reading at each other's offsets, and a lock held at fork time
cannot hang a child. With the descriptor closed after mapping, no process keeps an
extra descriptor open on its executable (3.13+, and 3.11 with apepy's backport of
mmap's trackfd; 3.12's mmap keeps a duplicate).
Without mmap (left out of a build) members are read with pread, which shares no
offset either.

Anything it cannot vouch for (no index, an index that does not match the
archive, a member whose local header disagrees) is left to zipimport.
Only modules that are frozen or built in may be imported here.
"""

import _imp
import _io
import marshal
import sys
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, _LoaderBasics, decode_source

# Given their values when the importer is put into the interpreter (apepy.inside).
from apepy.layout import FROZEN_PREFIX, INDEX_MAGIC, LIB

# For the type checker only: start-up imports nothing more than it did.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from importlib.readers import ZipReader
    from mmap import mmap
    from types import CodeType, ModuleType
    from typing import Literal

_EOCD_SIG = b"PK\x05\x06"
_LFH_SIG = b"PK\x03\x04"

# The Store for this executable, False once found unusable.
_store: "Store | Literal[False] | None" = None


class Store:
    """The executable's zip, read through apepy's index."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.view: mmap | None = None
        self.fd = -1
        # A process started with stdin, stdout or stderr closed finds them closed
        # (sys.stdout is None), as from any Python: while the file is opened and
        # mapped, descriptors 0-2 are held, so nothing kept lands on them.
        held = [_io.FileIO(path, "r")]
        try:
            while held[-1].fileno() < 3:
                held.append(_io.FileIO(path, "r"))
            file = held[-1]
            size = file.seek(0, 2)
            self.view = _map(file.fileno())
            if self.view is None:
                # Kept open for pread.
                self.fd = _posix().dup(file.fileno())
        finally:
            for opened in held:
                opened.close()
        tail_len = min(size, 22 + 64)
        tail = self._read(size - tail_len, tail_len)
        at = tail.rfind(_EOCD_SIG)
        if at < 0 or tail_len - at < 22:
            raise ImportError("no zip end record")
        cd_count = int.from_bytes(tail[at + 10 : at + 12], "little")
        cd_offset = int.from_bytes(tail[at + 16 : at + 20], "little")
        comment_len = int.from_bytes(tail[at + 20 : at + 22], "little")
        comment = tail[at + 22 : at + 22 + comment_len]
        # The magic, then the index's offset and length (two 64-bit numbers).
        at = len(INDEX_MAGIC)
        if len(comment) != at + 16 or not comment.startswith(INDEX_MAGIC):
            raise ImportError("no apepy index")
        offset = int.from_bytes(comment[at : at + 8], "little")
        length = int.from_bytes(comment[at + 8 : at + 16], "little")
        index = marshal.loads(self._read(offset, length))
        if index.get("cd") != (cd_offset, cd_count):
            raise ImportError("the apepy index does not match this archive")
        # member → (local header offset, header + data length, method); each directory.
        self.members: dict[str, tuple[int, int, int]] = index["members"]
        self.dirs: dict[str, None] = index["dirs"]

    def _read(self, offset: int, length: int) -> bytes:
        if self.view is not None:
            data = self.view[offset : offset + length]
        else:
            data = _posix().pread(self.fd, length, offset)
        if len(data) != length:
            raise ImportError("truncated read")
        return data

    def read(self, name: str) -> bytes | None:
        """A member's bytes, or None if the index has no such member."""
        entry = self.members.get(name)
        if entry is None:
            return None
        offset, length, method = entry
        raw = self._read(offset, length)
        name_len = int.from_bytes(raw[26:28], "little")
        extra_len = int.from_bytes(raw[28:30], "little")
        if raw[:4] != _LFH_SIG or raw[30 : 30 + name_len] != name.encode("utf-8"):
            raise ImportError(f"apepy index out of date at {name!r}")
        body = raw[30 + name_len + extra_len :]
        if method == 8:
            import zlib

            return zlib.decompress(body, -15)
        return body


def _map(fd: int) -> "mmap | None":
    """A read-only mapping of the whole file, or None where mmap is not built in."""
    try:
        import mmap as mmap_module
    except ImportError:
        return None
    try:
        # No duplicate descriptor: the mapping is all the store keeps (3.13's mmap,
        # and 3.11's with apepy's backport of trackfd).
        return mmap_module.mmap(fd, 0, access=mmap_module.ACCESS_READ, trackfd=False)  # type: ignore[call-arg,unused-ignore]
    except TypeError:
        return mmap_module.mmap(fd, 0, access=mmap_module.ACCESS_READ)


def _posix() -> "ModuleType":
    import posix

    return posix


def _get_store() -> "Store | Literal[False] | None":
    global _store
    if _store is None:
        try:
            _store = Store(sys.prefix)
        except (OSError, ImportError, ValueError, EOFError, TypeError, KeyError):
            _store = False
    return _store


def hook(path: object) -> "Finder":
    """sys.path_hooks entry: a finder for ``<exe>`` and any directory inside it."""
    store = _get_store()
    if not store or not isinstance(path, str):
        raise ImportError("not handled by apepy")
    root = store.path
    if path == root:
        prefix = ""
    elif path.startswith(root) and path[len(root)] in "/\\":
        prefix = path[len(root) + 1 :].replace("\\", "/").rstrip("/") + "/"
        if prefix not in store.dirs:
            raise ImportError("not a directory of the archive")
    else:
        raise ImportError("not inside this executable")
    return Finder(store, path, prefix)


class Finder:
    def __init__(self, store: Store, path: str, prefix: str) -> None:
        self.store = store
        self.path = path.rstrip("/\\")
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"<apepy importer for {self.path!r}>"

    def find_spec(self, fullname: str, target: object = None) -> ModuleSpec | None:
        tail = fullname.rpartition(".")[2]
        base = self.prefix + tail
        members = self.store.members
        location = self.path + "/" + tail
        for suffix, is_package in (
            ("/__init__.pyc", True),
            ("/__init__.py", True),
            (".pyc", False),
            (".py", False),
        ):
            if base + suffix in members:
                origin = location + (suffix[:-1] if suffix.endswith("c") else suffix)
                loader = Loader(self.store, self.path, fullname, base + suffix, origin, is_package)
                # Duck-typed: importlib.abc.Loader is not imported at start-up.
                spec = ModuleSpec(fullname, loader, origin=origin, is_package=is_package)  # type: ignore[arg-type]
                spec.has_location = True
                if is_package:
                    spec.submodule_search_locations = [location]
                return spec
        if base + "/" in self.store.dirs:
            # A namespace package portion (a directory without __init__).
            spec = ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [location]
            return spec
        return None

    def invalidate_caches(self) -> None:
        pass

    def iter_modules(self, prefix: str = "") -> "Iterator[tuple[str, bool]]":
        """For pkgutil: the modules and packages directly in this directory."""
        seen = set()
        start = len(self.prefix)
        for name in sorted(self.store.members):
            if not name.startswith(self.prefix):
                continue
            rest = name[start:]
            head, sep, tail = rest.partition("/")
            if sep:
                if tail in ("__init__.py", "__init__.pyc") and head not in seen:
                    seen.add(head)
                    yield prefix + head, True
            elif rest.endswith((".py", ".pyc")):
                mod = rest.rpartition(".")[0]
                if mod != "__init__" and mod not in seen:
                    seen.add(mod)
                    yield prefix + mod, False


class Loader:
    def __init__(
        self,
        store: Store,
        directory: str,
        fullname: str,
        member: str,
        origin: str,
        is_package: bool,
    ) -> None:
        self.store = store
        self.directory = directory
        self.name = fullname
        # FileLoader's: tests and tools compare loaders by their path.
        self.path = origin
        self.member = member
        self.origin = origin
        self.package = is_package

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    # importlib's own: a module's code runs from frames of importlib._bootstrap, which
    # warnings skip (a DeprecationWarning at import names the importing line, not
    # this file) and which tracebacks, pdb and trace treat as the import machinery.
    exec_module = _LoaderBasics.exec_module

    def is_package(self, fullname: str) -> bool:
        return self.package

    def get_filename(self, fullname: str) -> str:
        return self.origin

    def get_code(self, fullname: str) -> "CodeType":
        code = self._frozen_code(fullname)
        if code is not None:
            return code
        if self.member.endswith(".pyc"):
            data = self.store.read(self.member)
            if data is not None and data[:4] == MAGIC_NUMBER:
                loaded: CodeType = marshal.loads(memoryview(data)[16:])
                # As CPython's own loader does for every .pyc: the code's file name
                # becomes the module's __file__, wherever the executable now is, so
                # tracebacks, inspect, trace and warnings name the file they import.
                _imp._fix_co_filename(loaded, self.origin)  # type: ignore[attr-defined]
                return loaded
        source = self.get_source(fullname)
        if source is None:
            raise ImportError(f"cannot load {fullname} from {self.store.path}", name=fullname)
        return compile(source, self.origin, "exec", dont_inherit=True)

    def _frozen_code(self, fullname: str) -> "CodeType | None":
        """The module's code object from the binary, if this is a frozen stdlib member."""
        # Only the stdlib's own file: an app's json/ elsewhere in the zip is not it.
        stdlib_member = (
            LIB + fullname.replace(".", "/") + ("/__init__.pyc" if self.package else ".pyc")
        )
        if self.member != stdlib_member:
            return None
        frozen = FROZEN_PREFIX + fullname
        try:
            # Not frozen in this build (no --freeze), or -X frozen_modules=off.
            if not _imp.is_frozen(frozen):
                return None
            code = _imp.get_frozen_object(frozen)
        except ImportError:
            return None
        # Frozen code is named "<frozen json>"; give it the module's file name, so
        # tracebacks and inspect read the same as for a module from the zip.
        _imp._fix_co_filename(code, self.origin)  # type: ignore[attr-defined]
        return code

    def get_source(self, fullname: str) -> str | None:
        member = self.member[:-1] if self.member.endswith(".pyc") else self.member
        data = self.store.read(member)
        return None if data is None else decode_source(data)

    def get_data(self, path: str) -> bytes:
        root = self.store.path
        if path.startswith(root) and path[len(root) : len(root) + 1] in ("/", "\\"):
            data = self.store.read(path[len(root) + 1 :].replace("\\", "/"))
            if data is not None:
                return data
        with _io.FileIO(path, "r") as handle:
            return handle.read()

    def get_resource_reader(self, fullname: str) -> "ZipReader | None":
        # importlib.resources: zipimport's reader, made for the directory that
        # holds the package (as zipimport itself would have found it).
        if not self.package:
            return None
        import zipimport

        return zipimport.zipimporter(self.directory + "/").get_resource_reader(fullname)


def _frozen_file(cls: type, fullname: str) -> str | None:
    """The file name CPython gives a frozen module's __file__ (under
    sys._stdlib_dir, inside the executable here), if any."""
    spec = cls.find_spec(fullname)  # type: ignore[attr-defined]
    if spec is None:
        # As CPython's own FrozenImporter methods: only frozen modules are its own.
        raise ImportError(f"{fullname!r} is not a frozen module", name=fullname)
    filename: str | None = getattr(spec.loader_state, "filename", None)
    return filename


def _frozen_filename(cls: type, fullname: str) -> str:
    """FrozenImporter.get_filename, the companion of get_source below: tools that
    read a module's source then ask its loader for the file name (pyclbr)."""
    filename = _frozen_file(cls, fullname)
    if filename is None:
        raise ImportError(f"frozen module {fullname!r} has no file name", name=fullname)
    return filename


def _frozen_source(cls: type, fullname: str) -> str | None:
    """FrozenImporter.get_source: the source of one of CPython's own frozen stdlib
    modules (os, runpy, _collections_abc, ...), from its .py in the zip."""
    filename = _frozen_file(cls, fullname)
    store = _get_store()
    if filename is None or not store or not filename.startswith(store.path + "/"):
        return None
    data = store.read(filename[len(store.path) + 1 :])
    return None if data is None else decode_source(data)


def install() -> None:
    """Put the hook first in sys.path_hooks (zipimport stays as the fallback)."""
    if hook not in sys.path_hooks:
        sys.path_hooks.insert(0, hook)
    # CPython's FrozenImporter has no source to give: an ordinary build finds it on
    # disk at the module's __file__. Here the file is in the zip, so inspect, pdb
    # and tracebacks ask the importer through linecache.
    from _frozen_importlib import FrozenImporter

    FrozenImporter.get_source = classmethod(_frozen_source)  # type: ignore[method-assign,assignment]
    FrozenImporter.get_filename = classmethod(_frozen_filename)  # type: ignore[attr-defined]
