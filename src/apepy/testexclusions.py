"""What of CPython's own test suite cannot pass in a single static file, by design.

Each entry names a test file (left out whole) or a regrtest ``--ignore`` pattern
for test cases (``test.test_x.Class.test_method``; ``*`` globs), with the reason.
Everything not listed here must pass as it does in an ordinary build of the same
tarball: that is what ``apepy test`` checks. The reasons are few (below), and each
is a property of a single static file, not a bug left for later.
"""

from __future__ import annotations

from dataclasses import dataclass

# The stdlib is inside the executable: tests that open, glob, stat or run a stdlib
# module's file by its path (``open(argparse.__file__)``) find no file there. The
# modules themselves import, and their sources are readable through the loader.
STDLIB_NOT_FILES = (
    "opens, globs or runs a stdlib module's file by its path; the stdlib is inside the executable"
)
# CPython's test-only C modules (_testcapi, _testinternalcapi, ...) are left out of
# every build (--disable-test-modules): no program but CPython's own tests imports them.
TEST_ONLY_C = (
    "needs CPython's test-only C modules (_testcapi, _testinternalcapi), which apepy leaves out"
)
# ctypes.pythonapi finds the C API with dlsym(); a statically linked executable
# has no dynamic symbol table to look in.
NO_DLSYM = (
    "calls the C API through ctypes.pythonapi (dlsym); a static executable exports no symbols"
)
ENSUREPIP = "the file carries no ensurepip and its bundled pip wheel"
NO_HEADERS = "needs the C headers, Makefile and build directory, which a single file does not carry"
SELF_CONTAINED = (
    "sets PYTHONHOME to break start-up; the file's stdlib is inside itself and PYTHONHOME "
    "cannot move it"
)
PTH_FILE = (
    "a ._pth file beside a copy of the executable lists the stdlib's directory on disk as "
    "the whole sys.path; the file's stdlib is inside itself"
)
EXTENSION_BUILD = (
    "builds a C extension module and imports it: a single file carries no C headers, "
    "and a static executable loads no shared extension modules"
)
STDLIB_DIR = (
    "compares a stdlib module's file name with the directory above the test package "
    "(test.support.STDLIB_DIR); the stdlib is inside the executable, the test package on disk"
)
FROZEN_SOURCE = (
    "expects FrozenImporter.get_source to return None; apepy's gives the source of the "
    "frozen stdlib modules from the zip, where an ordinary build reads the file at __file__"
)
IMPORTER_NAME = (
    "a debugger told to skip importlib* still steps into apepy's importer (module _apepy_importer), "
    "which serves imports from the zip in place of importlib's FileFinder"
)


@dataclass(frozen=True)
class Exclusions:
    files: dict[str, str]
    cases: dict[str, str]

    def __or__(self, other: Exclusions) -> Exclusions:
        return Exclusions({**self.files, **other.files}, {**self.cases, **other.cases})


_FILES = {
    "test_ensurepip": ENSUREPIP,
    "test_venv": ENSUREPIP + " (test_venv imports ensurepip at the top)",
    "test_class": TEST_ONLY_C + " (imported at the top of the file)",
    "test_code": TEST_ONLY_C + " (imported at the top of the file)",
    "test_compile": TEST_ONLY_C + " (imported at the top of the file)",
}

_CASES = {
    # The stdlib is not files.
    "test.test_multiprocessing_*.test_misc._TestImportStar.test_import": STDLIB_NOT_FILES,
    "test.test_argparse.TestEncoding.test_argparse_module_encoding": STDLIB_NOT_FILES,
    "test.test_argparse.TestTranslations.test_translations": STDLIB_NOT_FILES,
    "test.test_getopt.TestTranslations.test_translations": STDLIB_NOT_FILES,
    "test.test_optparse.TestTranslations.test_translations": STDLIB_NOT_FILES,
    "test.test_cmd_line.CmdLineTest.test_env_var_frozen_modules": STDLIB_NOT_FILES,
    "test.test_cmd_line.CmdLineTest.test_xoption_frozen_modules": STDLIB_NOT_FILES,
    "test.test_docxmlrpc.DocXMLRPCHTTPGETServer.test_get_css": STDLIB_NOT_FILES,
    "test.test_importlib.resources.test_files.*.test_implicit_files_with_compiled_importlib": STDLIB_NOT_FILES,
    "test.test_linecache.LineCacheTests.test_clearcache": STDLIB_NOT_FILES,
    "test.test_linecache.LineCacheTests.test_getline": STDLIB_NOT_FILES,
    "test.test_linecache.LineCacheTests.test_memoryerror": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocDocTest.test_input_strip": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocDocTest.test_mixed_case_module_names_are_lower_cased": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocDocTest.test_not_ascii": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocDocTest.test_not_here": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocDocTest.test_synopsis_sourceless": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocImportTest.test_badimport": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.PydocImportTest.test_importfile": STDLIB_NOT_FILES,
    "test.test_pydoc.test_pydoc.TestInternalUtilities.test_sys_path_adjustment_*": STDLIB_NOT_FILES,
    "test.test_sys.SysModuleTest.test_stdlib_dir": STDLIB_NOT_FILES,
    "test.test_tabnanny.TestCommandLine.test_command_usage": STDLIB_NOT_FILES,
    "test.test_urllib2.TrivialTests.test_trivial": STDLIB_NOT_FILES,
    "test.test_sysconfig.TestSysConfig.test_get_config_h_filename": NO_HEADERS,
    "test.test_sysconfig.TestSysConfig.test_srcdir": NO_HEADERS,
    "test.test_sysconfig.MakefileTests.test_get_makefile_filename": NO_HEADERS,
    "test.test_cmd_line.CmdLineTest.test_dump_path_config": SELF_CONTAINED,
    "test.test_site._pthFileTests.test_underpth_nosite_file": PTH_FILE,
    "test.test_bdb.StateTestCase.test_skip": IMPORTER_NAME,
    # Tools/scripts/checkpip.py imports ensurepip.
    "test.test_tools.test_sundry.TestSundryScripts.test_sundry": ENSUREPIP,
    # pdb's "break pdb.find_function" looks for pdb.py as a file along sys.path.
    "test.test_pdb.test_pdb_breakpoints_preserved_across_interactive_sessions": STDLIB_NOT_FILES,
    # Test-only C modules.
    "test.test_posix.PosixTester.test_pipe2_c_limits": TEST_ONLY_C,
    "test.test_threading.ThreadTests.test_finalize_daemon_thread_hang": TEST_ONLY_C,
    "test.test_traceback.CExcReportingTests.*": TEST_ONLY_C,
    "test.test_traceback.CPythonSuggestionFormattingTests.*": TEST_ONLY_C,
    "test.test_traceback.TestColorizedTraceback.test_colorized_traceback_is_the_default": TEST_ONLY_C,
    "test.test_traceback.*TracebackFormat.test_exception_group_deep_recursion_capi": TEST_ONLY_C,
    "test.test_traceback.*TracebackFormat.test_print_exception_bad_type_capi": TEST_ONLY_C,
    "test.test_traceback.*TracebackFormat.test_traceback_format": TEST_ONLY_C,
    "test.test_traceback.*TracebackFormat.test_traceback_format_with_cleared_frames": TEST_ONLY_C,
    "test.test_traceback.*TracebackFormat.test_unhashable": TEST_ONLY_C,
    # No dynamic symbols.
    "test.test_ctypes.test_python_api.PythonAPITestCase.*": NO_DLSYM,
    "test.test_ctypes.test_values.PythonValuesTestCase.*": NO_DLSYM,
    "test.test_ctypes.test_errno.Test.test_open": NO_DLSYM,
    "test.test_threading.ThreadTests.test_PyThreadState_SetAsyncExc": NO_DLSYM,
    "test.test_threading.ThreadTests.test_finalize_running_thread": NO_DLSYM,
    "test.test_frame.TestFrameCApi.test_basic": NO_DLSYM,
}

# 3.11's test_class, test_code and test_compile import no test-only C module at the
# top; their cases that need one skip themselves. Many other 3.11 tests import one
# inside a test, unguarded (3.13 guards most with import_helper.import_module).
_FILES_311 = {
    **{k: v for k, v in _FILES.items() if k in ("test_ensurepip", "test_venv")},
    "test_cppext": ENSUREPIP + " (test_cppext installs setuptools with it into a venv)",
    "test_call": TEST_ONLY_C + " (used in a class body: the file fails on import)",
    "test_stable_abi_ctypes": TEST_ONLY_C + " (imported at the top of the file)",
    "test_ctypes": TEST_ONLY_C
    + " (_ctypes_test, imported at the top of most of 3.11's ctypes test modules)",
    "test_sqlite3": TEST_ONLY_C
    + " (test_dbapi imports it at the top, and the other sqlite3 test modules import "
    "test_dbapi)",
}

_CASES_311 = {
    # The stdlib is not files.
    "test.test_multiprocessing_*._TestImportStar.test_import": STDLIB_NOT_FILES,
    "test.test_ast.ASTValidatorTests.test_stdlib_validates": STDLIB_NOT_FILES,
    "test.test_imp.ImportTests.test_issue1267": STDLIB_NOT_FILES + " (imp.find_module)",
    "test.test_imp.ImportTests.test_load_from_source": STDLIB_NOT_FILES + " (imp.find_module)",
    "test.test_imp.ImportTests.test_multiple_calls_to_get_data": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocDocTest.test_input_strip": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocDocTest.test_mixed_case_module_names_are_lower_cased": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocDocTest.test_not_ascii": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocDocTest.test_not_here": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocDocTest.test_synopsis_sourceless": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocImportTest.test_badimport": STDLIB_NOT_FILES,
    "test.test_pydoc.PydocImportTest.test_importfile": STDLIB_NOT_FILES,
    "test.test_pydoc.TestInternalUtilities.test_sys_path_adjustment_*": STDLIB_NOT_FILES,
    "test.test_regrtest.ArgsTestCase.test_coverage": STDLIB_NOT_FILES + " (trace opens it)",
    "test.test_trace.TestCoverage.test_coverage": STDLIB_NOT_FILES + " (trace opens it)",
    # Tools/freeze configures and builds CPython from the source tree, whose Lib/
    # holds only the suite here.
    "test.test_tools.test_freeze.TestFreeze.test_freeze_simple_script": STDLIB_NOT_FILES
    + " (freeze builds CPython from the source tree's Lib/)",
    "test.test_importlib.frozen.test_finder.*FindSpecTests.test_module": STDLIB_DIR,
    "test.test_importlib.frozen.test_finder.*FindSpecTests.test_package": STDLIB_DIR,
    "test.test_importlib.frozen.test_loader.*LoaderTests.test_lacking_parent": STDLIB_DIR,
    "test.test_importlib.frozen.test_loader.*LoaderTests.test_module": STDLIB_DIR,
    "test.test_importlib.frozen.test_loader.*LoaderTests.test_package": STDLIB_DIR,
    "test.test_importlib.frozen.test_loader.*InspectLoaderTests.test_get_source": FROZEN_SOURCE,
    # Test-only C modules, imported inside the test (or by a child it starts).
    "test.test_ast.ModuleStateTests.test_subinterpreter": TEST_ONLY_C,
    "test.test_atexit.SubinterpreterTest.*": TEST_ONLY_C,
    "test.test_audit.AuditTest.test_unraisablehook": TEST_ONLY_C,
    "test.test_cmd_line.CmdLineTest.test_pythonmalloc": TEST_ONLY_C,
    "test.test_coroutines.CAPITest.*": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.testSettingException": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.test_MemoryError": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.test_exception_with_doc": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.test_memory_error_cleanup": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.test_memory_error_in_PyErr_PrintEx": TEST_ONLY_C,
    "test.test_exceptions.ExceptionTests.test_recursion_normalizing_*": TEST_ONLY_C,
    "test.test_faulthandler.FaultHandlerTests.test_fatal_error*": TEST_ONLY_C,
    "test.test_fcntl.TestFcntl.test_fcntl_bad_file_overflow": TEST_ONLY_C,
    "test.test_fcntl.TestFcntl.test_flock_overflow": TEST_ONLY_C,
    "test.test_fileio.COtherFileTests.testInvalidFd_overflow": TEST_ONLY_C,
    "test.test_finalization.LegacyFinalizationTest.*": TEST_ONLY_C,
    "test.test_finalization.SimpleFinalizationTest.test_non_gc*": TEST_ONLY_C,
    "test.test_format.FormatTest.test_precision_c_limits": TEST_ONLY_C,
    "test.test_gc.GCCallbackTests.test_collect_garbage": TEST_ONLY_C,
    "test.test_gc.GCTests.test_garbage_at_shutdown": TEST_ONLY_C,
    "test.test_gc.GCTests.test_legacy_finalizer*": TEST_ONLY_C,
    "test.test_genericclass.CAPITest.*": TEST_ONLY_C,
    "test.test_imp.ImportTests.test_create_builtin_subinterp": TEST_ONLY_C,
    "test.test_imp.ImportTests.test_issue16421_multiple_modules_in_one_dll": TEST_ONLY_C,
    "test.test_imp.ImportTests.test_issue24748_load_module_skips_sys_modules_check": TEST_ONLY_C,
    "test.test_imp.ImportTests.test_load_module_extension_file_is_None": TEST_ONLY_C,
    "test.test_import.ImportTests.test_from_import_missing_attr_has_name_and_so_path": TEST_ONLY_C,
    # They load _testcapi as an extension file, whose name they look for along
    # sys.path; without one they fail rather than skip.
    "test.test_importlib.extension.test_loader.*": TEST_ONLY_C,
    "test.test_importlib.extension.test_finder.*FinderTests.test_module": TEST_ONLY_C,
    "test.test_inspect.TestClassesAndFunctions.test_getfullargspec_builtin_func*": TEST_ONLY_C,
    "test.test_inspect.TestSignatureObject.test_signature_on_builtins*": TEST_ONLY_C,
    "test.test_inspect.TestSignatureObject.test_signature_on_decorated_builtins": TEST_ONLY_C,
    "test.test_multibytecodec.Test_IncrementalEncoder.test_subinterp": TEST_ONLY_C,
    "test.test_poll.PollTests.test_poll_c_limits": TEST_ONLY_C,
    "test.test_regrtest.ArgsTestCase.test_uncollectable": TEST_ONLY_C,
    "test.test_repl.TestInteractiveInterpreter.test_no_memory": TEST_ONLY_C,
    "test.test_sys.SizeofTest.*": TEST_ONLY_C,
    "test.test_sys.SysModuleTest.test_getallocatedblocks": TEST_ONLY_C,
    "test.test_sys.SysModuleTest.test_setrecursionlimit_recursion_depth": TEST_ONLY_C,
    "test.test_sys.UnraisableHookTest.*": TEST_ONLY_C,
    "test.test_threading.SubinterpThreadingTests.*": TEST_ONLY_C,
    "test.test_threading.ThreadTests.test_frame_tstate_tracing": TEST_ONLY_C,
    "test.test_weakref.ReferencesTestCase.test_cfunction": TEST_ONLY_C,
    # No dynamic symbols.
    "test.test_capi.test_unicode.CAPITest.test_from_format": NO_DLSYM,
    # A C extension built and loaded.
    "test.test_peg_generator.test_c_parser.TestCParser.*": EXTENSION_BUILD,
    "distutils.tests.test_build_ext.*BuildExtTestCase.test_get_outputs": EXTENSION_BUILD,
    "distutils.tests.test_sysconfig.SysconfigTestCase.test_get_config_h_filename": NO_HEADERS,
    "distutils.tests.test_sysconfig.SysconfigTestCase.test_srcdir": NO_HEADERS,
}

EXCLUDED: dict[str, Exclusions] = {
    "3.13": Exclusions(files=_FILES, cases=_CASES),
    "3.11": Exclusions(files=_FILES_311, cases={**_CASES, **_CASES_311}),
}


# An APE (toolchain cosmo) runs on Cosmopolitan's libc, whose differences from
# glibc some tests see. Each reason says what Cosmopolitan does; none is apepy's.
_COSMO_UTF8 = "Cosmopolitan's libc refuses file names that are not UTF-8 (EILSEQ)"
_COSMO_LOCALE = (
    "Cosmopolitan's libc has the C and C.UTF-8 locales only (no LC_NUMERIC, collation "
    "or alternative digits of other locales; no C locale coercion to do)"
)
_COSMO_LIBC = "Cosmopolitan's libc answers differently from glibc"
_COSMO_CASES = {
    "test.test_zipimport.*ZipImportTestCase.testUnencodable": _COSMO_UTF8,
    "test.test_os.Pep383Tests.*": _COSMO_UTF8,
    "test.test_cmd_line_script.CmdLineTest.test_non_ascii": _COSMO_UTF8,
    "test.test__locale._LocaleTests.*": _COSMO_LOCALE,
    "test.test_locale.TestEnUSCollation.*": _COSMO_LOCALE,
    "test.test_re.ReTests.test_locale_caching": _COSMO_LOCALE,
    "test.test_re.ReTests.test_locale_compiled": _COSMO_LOCALE,
    "test.test_c_locale_coercion.LocaleCoercionTests.*": _COSMO_LOCALE,
    "test.test_mmap.MmapTests.test_resize_up_anonymous_mapping": (
        "Cosmopolitan has no mremap(): an anonymous mapping cannot grow"
    ),
    "test.test_audit.AuditTest.test_syslog": (
        "Cosmopolitan's syslog() reports on stderr when there is no /dev/log"
    ),
    "test.test_os.CPUCountTests.test_process_cpu_count_affinity": _COSMO_LIBC
    + " (sched_setaffinity: EINVAL)",
    "test.test_os.PseudoterminalTests.*": _COSMO_LIBC
    + " (posix_openpt flags: EINVAL; a pty opened through ptsname() ends the process with"
    " SIGHUP)",
    "test.test_os.TestInvalidFD.test_fpathconf": _COSMO_LIBC + " (fpathconf of a bad fd)",
    "test.test_os.TestInvalidFD.test_pathconf_negative_fd_uses_fd_semantics": _COSMO_LIBC
    + " (pathconf of a bad fd)",
    "test.test_os.TestInvalidFD.test_ttyname": _COSMO_LIBC + " (ttyname's errno: EINVAL)",
    "test.test_socket.TestLinuxAbstractNamespace.*": (
        "Cosmopolitan has no Linux abstract AF_UNIX namespace (it runs on every system)"
    ),
    "test.test_socket.GeneralModuleTests.testIPv4toString": _COSMO_LIBC
    + " (inet_aton accepts what glibc refuses)",
    "test.test_signal.PosixTests.test_strsignal": _COSMO_LIBC + " (strsignal names the signal)",
    "test.datetimetester.*.test_system_transitions": _COSMO_LIBC
    + " (localtime() of the years before a zone's first transition)",
    "test.test_sysconfig.TestSysConfig.test_linux_ext_suffix": (
        "a Cosmopolitan build has no platform triplet in EXT_SUFFIX (and loads no extension files)"
    ),
    # Found by the APE's whole run (issue 26), after its spawn hang was fixed.
    "test.test_asyncio.test_events.*EventLoopTests.test_add_signal_handler": _COSMO_LIBC
    + " (signal.valid_signals() leaves out SIGKILL: asyncio refuses it with ValueError)",
    "test.test_asyncio.test_events.UnixPipeObjectSupportTests.test_*_fifo": (
        "Cosmopolitan's libc has no mkfifo(), so os.mkfifo does not exist"
    ),
    "test.test_posix.PosixTester.test_mknod": _COSMO_LIBC + " (mknod() of a FIFO: ENOSYS)",
    "test.test_multiprocessing_*.test_processes.WithProcessesTestListener.test_abstract_socket": (
        "Cosmopolitan has no Linux abstract AF_UNIX namespace (it runs on every system)"
    ),
    "test.test_ctypes.test_dlerror.*": (
        "ctypes loads a library with dlopen(), which a Cosmopolitan program does not have"
    ),
    "test.test_ntpath.NtCommonTest.test_nonascii_abspath": _COSMO_UTF8,
    "test.test_posixpath.PosixCommonTest.test_nonascii_abspath": _COSMO_UTF8,
    "test.test_unicode_file.TestUnicodeFiles.*": _COSMO_UTF8,
    "test.test_strptime.StrptimeTests.test_date_locale2": _COSMO_LOCALE,
    "test.test_posix.PosixTester.test_makedev": _COSMO_LIBC
    + " (major() and minor() of NODEV: Cosmopolitan's dev_t is unsigned)",
    "test.test_posix.PosixTester.test_sched_setaffinity": _COSMO_LIBC
    + " (sched_setaffinity: EINVAL)",
    "test.test_posix.PosixTester.test_fexecve": (
        "fexecve() of the APE itself: Linux runs an APE only through a shell or a loader "
        "registered with binfmt_misc, not from a descriptor"
    ),
    "test.test_readline.*.test_write_read_limited_history": _COSMO_LIBC
    + " (history files through libedit, which cosmo builds link: EINVAL)",
    "test.test_readline.TestHistoryManipulation.test_write_read_append": _COSMO_LIBC
    + " (history files through libedit, which cosmo builds link)",
    "test.test_syslog.Test.test_setlogmask": _COSMO_LIBC + " (setlogmask)",
    "test.test_tarfile.NoneInfoExtractTests_*.test_extractall_none_mode": _COSMO_LIBC
    + " (a directory extracted without a mode comes out 0o600, not 0o755)",
    "test.test_tarfile.TestExtractionFilters.test_realpath_limit_attack": _COSMO_LIBC
    + " (realpath() of a symlink chain longer than Linux follows)",
    "test.test_termios.TestFunctions.test_tcsetattr_errors": _COSMO_LIBC
    + " (tcsetattr() accepts an invalid 'when')",
    "test.test_subprocess.ProcessTestCase.test_empty_env": (
        "on Linux a child APE starts through /bin/sh, which sets PWD in an empty environment"
    ),
    "test.test_subprocess.POSIXProcessTestCase.test_undecodable_env": (
        "an environment variable whose value is not UTF-8 does not reach a child APE"
    ),
    # The two tests of test_ssl that match the text of ECONNRESET's message.
    "test.test_ssl.ThreadedTests.test_wrong_cert_tls13": _COSMO_LIBC
    + " (strerror(ECONNRESET) is 'Connection reset by client')",
    "test.test_ssl.TestPostHandshakeAuth.test_pha_required_nocert": _COSMO_LIBC
    + " (strerror(ECONNRESET) is 'Connection reset by client')",
    "test.test_zipfile.test_core.ExtractTests.test_extract_hackers_arcnames_posix_only": (
        _COSMO_LIBC + " (a file name ending in '..' is refused: EILSEQ)"
    ),
    "test.test_asyncio.test_ssl.TestSSL.test_remote_shutdown_receives_trailing_data_on_slow_socket": (
        _COSMO_LIBC + " (the server's recv() on the test's shrunken socket buffers times out, "
        "on every run)"
    ),
}

COSMO: dict[str, Exclusions] = {
    "3.13": Exclusions(files={}, cases=_COSMO_CASES),
}


def for_version(version: str, toolchain: str = "host") -> Exclusions:
    """The exclusions for CPython ``version`` built with ``toolchain`` (none for a
    series not triaged)."""
    series = ".".join(version.split(".")[:2])
    found = EXCLUDED.get(series, Exclusions({}, {}))
    if toolchain == "cosmo":
        found = found | COSMO.get(series, Exclusions({}, {}))
    return found
