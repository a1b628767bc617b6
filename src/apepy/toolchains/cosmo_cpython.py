"""The edits of CPython's source that a Cosmopolitan build needs (toolchain cosmo).

Applied after apepy's own (interpreter/patches.py), to every supported series.
"""

from __future__ import annotations

from apepy import portcosmo
from apepy.edits import Edit

# configure's answers for probes that conclude wrongly under Cosmopolitan's headers.
CONFIGURE_CACHE = portcosmo.CPYTHON_CONFIGURE_CACHE

# os.openpty()'s pair of descriptors, as Cosmopolitan's openpty() makes them on
# every system but OpenBSD (which has no posix_openpt() there and keeps its own way),
# with O_NOCTTY on both ends (see the edit below).
OPENPTY_C = """\
#ifdef __COSMOPOLITAN__
#include <cosmo.h>
#include <termios.h>

static int
apepy_openpty(int *master, int *slave)
{
    if (IsOpenbsd()) {
        return openpty(master, slave, NULL, NULL, NULL);
    }
    char name[64];
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m == -1) {
        return -1;
    }
    int err = 0;
    if (grantpt(m) != 0 || unlockpt(m) != 0) {
        err = errno;
    }
    else {
        err = ptsname_r(m, name, sizeof(name)); /* an errno value, or 0 */
    }
    int s = err ? -1 : open(name, O_RDWR | O_NOCTTY);
    if (s == -1) {
        if (!err) {
            err = errno;
        }
        close(m);
        errno = err;
        return -1;
    }
    *master = m;
    *slave = s;
    return 0;
}
#else
#define apepy_openpty(master, slave) openpty((master), (slave), NULL, NULL, NULL)
#endif

"""

# The C that replaces semaphore.c's SEM_CLOSE (see the edits below).
SEM_REOPEN_C = """\
#ifdef __COSMOPOLITAN__
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
void shm_path_np(const char *, char *);

/* The semaphores this process reopened itself (not in the libc's own list, which
   sem_close() asserts on); the GIL guards the list. */
typedef struct apepy_reopened {
    struct apepy_reopened *next;
    sem_t *sem;
    char path[78];
} apepy_reopened;
static apepy_reopened *apepy_reopened_list;

static sem_t *
apepy_sem_reopen(const char *name)
{
    apepy_reopened *r = PyMem_RawCalloc(1, sizeof(*r));
    if (r == NULL) {
        errno = ENOMEM;
        return SEM_FAILED;
    }
    shm_path_np(name, r->path);
    int fd = open(r->path, O_RDWR | O_CLOEXEC);
    if (fd == -1) {
        PyMem_RawFree(r);
        return SEM_FAILED;
    }
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0) {
        if (st.st_size >= 4096) {
            map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        }
        else {
            errno = EINVAL;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (map == MAP_FAILED) {
        PyMem_RawFree(r);
        return SEM_FAILED;
    }
    sem_t *sem = map;
    if (sem->sem_magic != SEM_MAGIC_NAMED || sem->sem_lazydelete) {
        munmap(map, 4096);
        PyMem_RawFree(r);
        errno = ENOENT;
        return SEM_FAILED;
    }
    __atomic_fetch_add(&sem->sem_prefs, 1, __ATOMIC_ACQ_REL);
    r->sem = sem;
    r->next = apepy_reopened_list;
    apepy_reopened_list = r;
    return sem;
}

static int
apepy_sem_close(sem_t *sem)
{
    for (apepy_reopened **p = &apepy_reopened_list; *p != NULL; p = &(*p)->next) {
        apepy_reopened *r = *p;
        if (r->sem == sem) {
            *p = r->next;
            int prefs = __atomic_fetch_sub(&sem->sem_prefs, 1, __ATOMIC_ACQ_REL);
            int last = sem->sem_lazydelete && prefs == 1;
            munmap(sem, 4096);
            if (last) {
                unlink(r->path);
            }
            PyMem_RawFree(r);
            return 0;
        }
    }
    return sem_close(sem);
}
#define SEM_CLOSE(sem) apepy_sem_close(sem)
#define SEM_REOPEN(name) apepy_sem_reopen(name)
#else
#define SEM_CLOSE(sem) sem_close(sem)
#define SEM_REOPEN(name) sem_open(name, 0)
#endif
"""

# Under Cosmopolitan, /proc/self/exe (where Linux has one) names the APE loader
# that runs the file, not the file: the stdlib would be looked for in the loader.
# The libc knows the file on every OS (GetProgramExecutableName), so argv[0]
# becomes that path before CPython computes sys.executable from it, and getpath
# starts from the executable alone.
SOURCE_EDITS: tuple[Edit, ...] = (
    Edit(
        "python.c: argv[0] is the file itself (cosmo)",
        "Programs/python.c",
        "    const char *path = GetProgramExecutableName();\n    (void)self;\n",
        "    const char *path = GetProgramExecutableName();\n    (void)self;\n"
        "    if (path != NULL && *argc > 0) {\n        (*argv)[0] = (char *)path;\n    }\n",
    ),
    Edit(
        "getpath: the executable, not /proc/self/exe (cosmo)",
        "Modules/getpath.py",
        "    if os_name == 'posix' and isfile('/proc/self/exe'):\n",
        "    if False:  # cosmo: /proc/self/exe is the APE loader\n",
    ),
    # ctypes opens the interpreter itself with dlopen(NULL) at import, which a
    # Cosmopolitan program does not support ("dlopen() isn't supported; consider
    # using cosmo_dlopen()"): ctypes then failed to import at all. Types, structures
    # and callbacks work without it; ctypes.pythonapi is None.
    Edit(
        "ctypes: no pythonapi without dlopen (cosmo)",
        "Lib/ctypes/__init__.py",
        "else:\n    pythonapi = PyDLL(None)\n",
        "else:\n    try:\n        pythonapi = PyDLL(None)\n"
        "    except OSError:  # apepy (cosmo): no dlopen() in a Cosmopolitan program\n"
        "        pythonapi = None\n",
    ),
    # On Windows, Cosmopolitan ends a process with its POSIX wait status as the exit
    # code (exit(3) is 768), which its own parents decode. Windows programs (cmd.exe,
    # PowerShell, a CI runner) read the code as it is: there the interpreter ends
    # with its plain status, unless its parent is a Cosmopolitan program. Such a
    # parent sets _COSMO_PPID ("<win32 pid>:<pid>", posix_spawn and execve in 4.0.2)
    # and getppid() confirms it; inherited through a native program, the variable
    # names an ancestor instead.
    Edit(
        "python.c: the plain exit status on Windows (cosmo)",
        "Programs/python.c",
        '#include "Python.h"\n',
        '#include "Python.h"\n'
        "#if defined(__COSMOPOLITAN__) && defined(__x86_64__)\n"
        "#include <cosmo.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "#include <unistd.h>\n"
        # kernel32's, through Cosmopolitan's thunk (libc/nt/runtime.h declares it so;
        # that header needs GNU C, CPython compiles as C11). Windows is x86_64 only.
        "void ExitProcess(unsigned int) __attribute__((__noreturn__));\n"
        "static int apepy_exit_status(int status)\n{\n"
        "    if (IsWindows()) {\n"
        '        const char *ppid = getenv("_COSMO_PPID");\n'
        "        const char *colon = ppid != NULL ? strchr(ppid, ':') : NULL;\n"
        "        if (colon == NULL || strtol(colon + 1, NULL, 10) != (long)getppid()) {\n"
        "            fflush(NULL);\n"
        "            ExitProcess((unsigned int)status);\n"
        "        }\n"
        "    }\n"
        "    return status;\n}\n"
        "#else\n#define apepy_exit_status(status) (status)\n"
        "#endif\n",
    ),
    Edit(
        "python.c: exit through apepy_exit_status (cosmo)",
        "Programs/python.c",
        "    return Py_BytesMain(argc, argv);\n",
        "    return apepy_exit_status(Py_BytesMain(argc, argv));\n",
    ),
    # On Windows, Cosmopolitan's socketpair() makes descriptors that are not sockets
    # (socket() then fails with EBADF), so asyncio could not even create its event
    # loop. There the pair is two connected loopback TCP sockets, as CPython does on
    # platforms without socketpair(). Found running the file under Wine 10.
    Edit(
        "socket: socketpair over loopback on Windows (cosmo)",
        "Lib/socket.py",
        'if hasattr(_socket, "socketpair"):\n',
        "def _apepy_loopback_pair(type, proto):\n"
        "    # apepy (cosmo): see the caller.\n"
        "    with socket(AF_INET, type, proto) as listener:\n"
        "        listener.bind(('127.0.0.1', 0))\n"
        "        listener.listen()\n"
        "        a = socket(AF_INET, type, proto)\n"
        "        try:\n"
        "            a.connect(listener.getsockname())\n"
        "            b, _ = listener.accept()\n"
        "        except BaseException:\n"
        "            a.close()\n"
        "            raise\n"
        "    if b.getpeername() != a.getsockname():\n"
        "        a.close()\n"
        "        b.close()\n"
        "        raise ConnectionError('socketpair: a stranger connected first')\n"
        "    return a, b\n\n\n"
        'if hasattr(_socket, "socketpair"):\n',
    ),
    Edit(
        "socket: socketpair on Windows takes the loopback pair (cosmo)",
        "Lib/socket.py",
        "        a, b = _socket.socketpair(family, type, proto)\n",
        "        if family == AF_UNIX and os.uname().sysname == 'Windows':\n"
        "            return _apepy_loopback_pair(type, proto)\n"
        "        a, b = _socket.socketpair(family, type, proto)\n",
    ),
    # Cosmopolitan's headers name _SC_SEM_NSEMS_MAX but its sysconf() answers EINVAL
    # for it, so os.sysconf("SC_SEM_NSEMS_MAX") raised OSError, which
    # concurrent.futures' _check_system_limits does not catch: every
    # ProcessPoolExecutor (and CPython's multiprocessing tests) failed at once.
    # Without the name, os.sysconf raises ValueError, as where a system lacks it.
    Edit(
        "posixmodule: no SC_SEM_NSEMS_MAX (cosmo)",
        "Modules/posixmodule.c",
        '#ifdef _SC_SEM_NSEMS_MAX\n    {"SC_SEM_NSEMS_MAX",',
        '#if defined(_SC_SEM_NSEMS_MAX) && !defined(__COSMOPOLITAN__)\n    {"SC_SEM_NSEMS_MAX",',
    ),
    # Cosmopolitan's sem_open() stores its value argument into the semaphore even
    # when it opens an existing one (libc/thread/sem_open.c, 4.0.2 to today). A
    # SemLock rebuilt in a spawn or forkserver child (sem_open(name, 0)) so reset the
    # count all processes share: a held Lock looked free and a free one held, and
    # Pool, SimpleQueue and ProcessPoolExecutor hung under spawn. The child maps the
    # semaphore's file itself, as sem_open does, without the store; it keeps the
    # sharing count that lets Windows delete the file after the last close.
    Edit(
        "multiprocessing: reopen a named semaphore without resetting it (cosmo)",
        "Modules/_multiprocessing/semaphore.c",
        "#define SEM_CLOSE(sem) sem_close(sem)\n",
        SEM_REOPEN_C,
    ),
    Edit(
        "multiprocessing: a rebuilt SemLock reopens its semaphore (cosmo)",
        "Modules/_multiprocessing/semaphore.c",
        "        handle = sem_open(name, 0);\n",
        "        handle = SEM_REOPEN(name);\n",
    ),
    # Cosmopolitan's openpty() opens the terminal's other end without O_NOCTTY
    # (libc/calls/openpty.c, 4.0.2 to today), so a session leader with no controlling
    # terminal (a daemon, a service, a child after setsid(), CPython's test workers)
    # got the new pty as its controlling terminal and was killed by SIGHUP when the
    # pty closed. glibc's openpty() passes O_NOCTTY; os.openpty() here does what
    # Cosmopolitan's does, with it.
    Edit(
        "posixmodule: os.openpty() without taking a controlling terminal (cosmo)",
        "Modules/posixmodule.c",
        "#if defined(HAVE_OPENPTY) || defined(HAVE__GETPTY) || defined(HAVE_DEV_PTMX)\n"
        "/*[clinic input]\nos.openpty\n",
        OPENPTY_C + "#if defined(HAVE_OPENPTY) || defined(HAVE__GETPTY) || defined(HAVE_DEV_PTMX)\n"
        "/*[clinic input]\nos.openpty\n",
    ),
    Edit(
        "posixmodule: os.openpty() calls apepy_openpty() (cosmo)",
        "Modules/posixmodule.c",
        "    if (openpty(&master_fd, &slave_fd, NULL, NULL, NULL) != 0)\n",
        "    if (apepy_openpty(&master_fd, &slave_fd) != 0)\n",
    ),
    # Cosmopolitan's run-time constants where C wants compile-time ones (socket's
    # switches on address families, termios' table): see apepy.portcosmo.
    *portcosmo.CPYTHON,
)
