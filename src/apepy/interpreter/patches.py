"""Edits apepy makes to CPython's source, one named set per supported series.

Edits are apepy.edits' (an anchor that must occur exactly once, and its
replacement): a release that moved the code fails loudly with the version, the
file and the edit's name, instead of building something subtly wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from apepy import edits as engine
from apepy import inside
from apepy.edits import Edit
from apepy.errors import ApepyError

__all__ = ["Edit", "apply", "patch_set", "regenerate"]


# getpath.py is frozen into the interpreter and computes sys.path at start-up.
# Inserted before prefix detection: unless a build directory, Py_SetPath or a
# ._pth file says otherwise, prefix is the executable itself and sys.path is the
# zip appended to it. PYTHONHOME is ignored there: the stdlib inside the file is
# the only one that matches this interpreter. /proc/self/exe is preferred where it
# exists, so that argv[0] tricks (symlinks, exec with another name, no PATH) still
# find the file.
_GETPATH_ANCHOR = (
    "# ******************************************************************************\n"
    "# CALCULATE prefix AND exec_prefix\n"
)
_GETPATH_BLOCK = """\
# apepy: the standard library lives in the zip appended to this executable.
if not build_prefix and not py_setpath and not home_was_set and not pth:
    _apepy_self = real_executable
    if os_name == 'posix' and isfile('/proc/self/exe'):
        try:
            _apepy_self = realpath('/proc/self/exe')
        except OSError:
            pass
    if _apepy_self:
        home = None
        prefix = exec_prefix = _apepy_self
        stdlib_dir = platstdlib_dir = joinpath(_apepy_self, 'Lib')
        if not pythonpath_was_set:
            pythonpath = []
            if use_environment and ENV_PYTHONPATH:
                for p in ENV_PYTHONPATH.split(DELIM):
                    pythonpath.append(abspath(p))
            pythonpath.append(stdlib_dir)
            pythonpath.append(joinpath(stdlib_dir, 'site-packages'))
            config['module_search_paths'] = pythonpath
            config['module_search_paths_set'] = 1
            pythonpath_was_set = 1


"""

GETPATH = Edit(
    name="getpath: stdlib inside the executable",
    path="Modules/getpath.py",
    anchor=_GETPATH_ANCHOR,
    replacement=_GETPATH_BLOCK + _GETPATH_ANCHOR,
)

# OpenSSL's default CA locations are those of the build host. Where they do not
# exist at run time, _apepy loads the system's bundle from a well-known path, or
# the CA bundle stored in the zip.
SSL_CAS = Edit(
    name="ssl: CA bundle fallback",
    path="Lib/ssl.py",
    anchor="        self.set_default_verify_paths()\n",
    replacement=(
        "        self.set_default_verify_paths()\n"
        "        if sys.platform != 'win32':\n"
        "            try:\n"
        "                import _apepy\n"
        "            except ImportError:  # the build tree's own interpreter\n"
        "                pass\n"
        "            else:\n"
        "                _apepy.load_fallback_cas(self)\n"
    ),
)

# The host build reads `.args` from its own zip before Py_BytesMain (Cosmopolitan's
# libc does this itself), and sets pymalloc's arena allocator before the first
# allocation; the static host build also brings the sbrk, and the APE the
# _mapanon, that put malloc's heap on huge pages. The C sources are kept in
# inside/c, in the order they are pasted (later files use earlier ones).
_PYTHON_C = "\n".join(
    inside.path(f"c/{name}").read_text(encoding="utf-8")
    for name in (
        "apepy_args.c",
        "apepy_pages.c",
        "apepy_arenas.c",
        "apepy_heap.c",
        "apepy_cosmo_heap.c",
    )
)
ARGS_HELPER = Edit(
    name="python.c: .args helper, huge-page arenas and heap",
    path="Programs/python.c",
    anchor='#include "Python.h"\n',
    replacement='#include "Python.h"\n\n' + _PYTHON_C,
)
ARGS_CALL = Edit(
    name="python.c: read .args at start",
    path="Programs/python.c",
    anchor="    return Py_BytesMain(argc, argv);\n",
    replacement=(
        "    apepy_huge_heap();\n"
        "    apepy_huge_arenas();\n"
        "    apepy_static_nss();\n    apepy_load_args(&argc, &argv);\n"
        "    return Py_BytesMain(argc, argv);\n"
    ),
)

# With `.args`, argv is a new array whose extra arguments live on the heap; the
# command line the kernel laid out before the environment is what the process was
# given. CPython records argv as "orig_argv" (sys.orig_argv, Py_GetArgcArgv), and
# setproctitle finds the memory it rewrites by walking back from the first
# environment string over Py_GetArgcArgv's count of arguments to its argv[0]: with
# the spliced count it found the wrong strings and gave up (getproctitle() was '').
# python.c hands the process's own argv over here when `.args` changed it.
_ORIG_ARGV_ANCHOR = "    if (config->orig_argv.length == 0\n"
PROCESS_ARGV_VARS = Edit(
    name="initconfig.c: the process's own argv",
    path="Python/initconfig.c",
    anchor="/* Read the configuration into PyConfig from:\n",
    replacement=(
        "/* apepy: set by Programs/python.c when .args replaced argv. */\n"
        "int _Py_apepy_process_argc = 0;\n"
        "char **_Py_apepy_process_argv = NULL;\n\n"
        "/* Read the configuration into PyConfig from:\n"
    ),
)
PROCESS_ARGV = Edit(
    name="initconfig.c: orig_argv is the process's own argv",
    path="Python/initconfig.c",
    anchor=_ORIG_ARGV_ANCHOR,
    replacement=(
        "    if (config->orig_argv.length == 0 && _Py_apepy_process_argc > 0) {\n"
        "        const _PyArgv apepy_argv = {\n"
        "            .argc = _Py_apepy_process_argc,\n"
        "            .use_bytes_argv = 1,\n"
        "            .bytes_argv = _Py_apepy_process_argv,\n"
        "            .wchar_argv = NULL,\n"
        "        };\n"
        "        status = _PyArgv_AsWstrList(&apepy_argv, &config->orig_argv);\n"
        "        if (_PyStatus_EXCEPTION(status)) {\n"
        "            return status;\n"
        "        }\n"
        "    }\n" + _ORIG_ARGV_ANCHOR
    ),
)

# importlib.metadata cannot see *.dist-info in a subdirectory of a zip on sys.path
# (Lib/site-packages inside the executable); _apepy adds a finder that can.
SITE_METADATA = Edit(
    name="site: metadata finder for the zip",
    path="Lib/site.py",
    anchor="    execsitecustomize()\n",
    replacement=(
        "    try:\n"
        "        import _apepy\n"
        "    except ImportError:  # the build tree's own interpreter has no _apepy\n"
        "        pass\n"
        "    else:\n"
        "        _apepy.install_metadata_finder()\n"
        "    execsitecustomize()\n"
    ),
)

# Third-party extensions are built in under their dotted names
# ("markupsafe._speedups"). 3.11's BuiltinImporter refuses every submodule (it
# returns None whenever a package path is given); 3.12 dropped that check
# (gh-102700). This lets dotted names through and keeps 3.11's answer for a
# top-level name asked with a path (CPython's test_importlib checks it).
DOTTED_BUILTINS_311 = Edit(
    name="importlib: built-in submodules (gh-102700)",
    path="Lib/importlib/_bootstrap.py",
    anchor=(
        "    def find_spec(cls, fullname, path=None, target=None):\n"
        "        if path is not None:\n"
        "            return None\n"
        "        if _imp.is_builtin(fullname):\n"
    ),
    replacement=(
        "    def find_spec(cls, fullname, path=None, target=None):\n"
        "        if path is not None and '.' not in fullname:\n"
        "            return None\n"
        "        if _imp.is_builtin(fullname):\n"
    ),
)

# 3.13's mmap(..., trackfd=False) keeps no duplicate of the file's descriptor
# (gh-78502). The importer maps its own executable for the life of the process;
# without it, every 3.11 process keeps a descriptor it never opened (a child's
# pass_fds, or a process started with stdout closed, sees it). Backported.
MMAP_TRACKFD_311 = Edit(
    name="mmap: trackfd=False (gh-78502)",
    path="Modules/mmapmodule.c",
    anchor=(
        '    static char *keywords[] = {"fileno", "length",\n'
        '                               "flags", "prot",\n'
        '                               "access", "offset", NULL};\n'
        "\n"
        '    if (!PyArg_ParseTupleAndKeywords(args, kwdict, "in|iii" _Py_PARSE_OFF_T, keywords,\n'
        "                                     &fd, &map_size, &flags, &prot,\n"
        "                                     &access, &offset))\n"
    ),
    replacement=(
        "    int trackfd = 1;\n"
        '    static char *keywords[] = {"fileno", "length",\n'
        '                               "flags", "prot",\n'
        '                               "access", "offset", "trackfd", NULL};\n'
        "\n"
        '    if (!PyArg_ParseTupleAndKeywords(args, kwdict, "in|iii" _Py_PARSE_OFF_T "$p", keywords,\n'
        "                                     &fd, &map_size, &flags, &prot,\n"
        "                                     &access, &offset, &trackfd))\n"
    ),
)
MMAP_TRACKFD_DUP_311 = Edit(
    name="mmap: trackfd=False keeps no descriptor (gh-78502)",
    path="Modules/mmapmodule.c",
    anchor=("    else {\n        m_obj->fd = _Py_dup(fd);\n        if (m_obj->fd == -1) {\n"),
    replacement=(
        "    else if (!trackfd) {\n"
        "        m_obj->fd = -1;\n"
        "    }\n"
        "    else {\n"
        "        m_obj->fd = _Py_dup(fd);\n"
        "        if (m_obj->fd == -1) {\n"
    ),
)

# The fast importer (inside/frozen/_apepy_importer.py) is frozen into the
# interpreter like os and site, and installed ahead of zipimport in sys.path_hooks
# right after zipimport's own hook, before the first import from the zip
# (encodings). If it cannot be imported, start-up goes on with zipimport.
_IMPORTER_SOURCE = inside.source("frozen/_apepy_importer.py")
IMPORTER_FILE = Edit(
    name="Lib/_apepy_importer.py: the fast importer",
    path="Lib/_apepy_importer.py",
    anchor="",
    replacement=_IMPORTER_SOURCE,
)
_FREEZE_ANCHOR = "        'stat',\n        ]),\n"
_FREEZE_REPLACEMENT = "        'stat',\n        '_apepy_importer',\n        ]),\n"
FREEZE = Edit(
    name="freeze_modules: freeze _apepy_importer",
    path="Tools/build/freeze_modules.py",
    anchor=_FREEZE_ANCHOR,
    replacement=_FREEZE_REPLACEMENT,
)
FREEZE_311 = Edit(
    name="freeze_modules: freeze _apepy_importer",
    path="Tools/scripts/freeze_modules.py",
    anchor=_FREEZE_ANCHOR,
    replacement=_FREEZE_REPLACEMENT,
)
_INSTALL_HELPER = """\
/* apepy: the single file's own importer goes first in sys.path_hooks. */
static void
apepy_install_importer(void)
{
    PyObject *mod = PyImport_ImportModule("_apepy_importer");
    if (mod == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *res = PyObject_CallMethod(mod, "install", NULL);
    if (res == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(res);
    Py_DECREF(mod);
}

"""
_HELPER_ANCHOR = "static int\ninit_zipimport(PyThreadState *tstate, int verbose)\n"
IMPORTER_HELPER = Edit(
    name="import.c: install the fast importer",
    path="Python/import.c",
    anchor=_HELPER_ANCHOR,
    replacement=_INSTALL_HELPER + _HELPER_ANCHOR,
)
_CALL_ANCHOR = (
    '            PySys_WriteStderr("# installed zipimport hook\\n");\n'
    "        }\n    }\n    Py_DECREF(path_hooks);\n"
)
IMPORTER_CALL = Edit(
    name="import.c: call the importer's install()",
    path="Python/import.c",
    anchor=_CALL_ANCHOR,
    replacement=_CALL_ANCHOR + "    apepy_install_importer();\n",
)
_HELPER_ANCHOR_311 = "PyStatus\n_PyImportZip_Init(PyThreadState *tstate)\n"
IMPORTER_HELPER_311 = Edit(
    name="import.c: install the fast importer",
    path="Python/import.c",
    anchor=_HELPER_ANCHOR_311,
    replacement=_INSTALL_HELPER + _HELPER_ANCHOR_311,
)
_CALL_ANCHOR_311 = (
    '                PySys_WriteStderr("# installed zipimport hook\\n");\n'
    "            }\n        }\n    }\n\n    return _PyStatus_OK();\n"
)
IMPORTER_CALL_311 = Edit(
    name="import.c: call the importer's install()",
    path="Python/import.c",
    anchor=_CALL_ANCHOR_311,
    replacement=_CALL_ANCHOR_311.replace(
        "    return _PyStatus_OK();\n",
        "    apepy_install_importer();\n    return _PyStatus_OK();\n",
    ),
)

_COMMON = (
    GETPATH,
    SSL_CAS,
    ARGS_HELPER,
    ARGS_CALL,
    PROCESS_ARGV_VARS,
    PROCESS_ARGV,
    SITE_METADATA,
    IMPORTER_FILE,
)
_IMPORTER = (FREEZE, IMPORTER_HELPER, IMPORTER_CALL)
PATCH_SETS: dict[str, tuple[Edit, ...]] = {
    "3.11": (
        *_COMMON,
        DOTTED_BUILTINS_311,
        MMAP_TRACKFD_311,
        MMAP_TRACKFD_DUP_311,
        FREEZE_311,
        IMPORTER_HELPER_311,
        IMPORTER_CALL_311,
    ),
    "3.12": (*_COMMON, *_IMPORTER),
    "3.13": (*_COMMON, *_IMPORTER),
    "3.14": (*_COMMON, *_IMPORTER),
}
# Run after the edits: regenerates Makefile.pre.in and Python/frozen.c from the
# edited freeze list.
FREEZE_SCRIPTS = ("Tools/build/freeze_modules.py", "Tools/scripts/freeze_modules.py")


def patch_set(version: str) -> tuple[Edit, ...]:
    series = ".".join(version.split(".")[:2])
    try:
        return PATCH_SETS[series]
    except KeyError:
        raise ApepyError(
            f"apepy has no patch set for CPython {series}",
            hint=f"build one of: {', '.join(sorted(PATCH_SETS))}",
        ) from None


def apply(tree: Path, version: str, edits: tuple[Edit, ...] | None = None) -> list[str]:
    """Apply the version's edits to a source tree; return the names applied.

    Every anchor is checked before any file is written, so a failure leaves the
    tree as it was.
    """
    return engine.apply(
        tree,
        patch_set(version) if edits is None else edits,
        subject=f"CPython {version}",
        hint="this CPython release changed that code, so apepy needs an updated patch set "
        "for it (or pick a pinned version)",
    )


def regenerate(tree: Path, run: Callable[[list[str]], None]) -> None:
    """Run CPython's freeze script, so the build freezes what the edits added."""
    for script in FREEZE_SCRIPTS:
        if (tree / script).is_file():
            run([sys.executable, script])
            return
