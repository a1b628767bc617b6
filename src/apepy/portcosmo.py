"""Source edits that let C compile against Cosmopolitan's true headers with any compiler.

Cosmopolitan makes a program portable by deciding some constants when it starts,
for the system it finds itself on: address families (``AF_INET6`` is 10 on Linux,
23 on Windows, 28 on FreeBSD), termios flags and speeds, ``SOMAXCONN``. Its headers
declare them ``extern const``. C wants compile-time constants in ``case`` labels
and in static initialisers; the release's patched GCC accepts these anyway
(``-fportcosmo`` rewrites them), a stock GCC or cosmocc's clang mode does not.
Compiling with Linux's values instead gives a file that only works on Linux
(Windows gets Linux's ``SOL_SOCKET`` and answers ``WSAEINVAL``).

So each site is rewritten the way ``-fportcosmo`` would, in the source:

- a ``switch`` on an address family switches on the family's position in a fixed
  list (``apepy_af(x)``), and its labels are those positions (``APEPY_AF_INET6``);
- a static table with run-time values becomes a static array filled once, from an
  automatic array (which may have run-time initialisers), before first use.

The edits apply to the cosmo family only and leave the code's behaviour as it was.
Every anchor is exact and every rewritten construct is counted per pinned release,
so a release that adds a case or moves a table fails loudly with the edit's name.
"""

from __future__ import annotations

from apepy.edits import Edit

HEADER = "apepy_portcosmo.h"

# The families CPython's and OpenSSL's switches name. Positions start at 1000, away
# from every system's real values, so a switch left unconverted could never match.
_FAMILIES = (
    "UNSPEC",
    "UNIX",
    "INET",
    "INET6",
    "NETLINK",
    "PACKET",
    "BLUETOOTH",
    "CAN",
    "TIPC",
    "ALG",
    "VSOCK",
    "RDS",
    "QIPCRTR",
    "HYPERV",
    "DIVERT",
)


def _header() -> str:
    enum = ",\n".join(
        f"    APEPY_AF_{name}" + (" = 1000" if i == 0 else "") for i, name in enumerate(_FAMILIES)
    )
    tests = "\n".join(
        f"#ifdef AF_{name}\n    if (AF_{name} != 0 && af == AF_{name}) return APEPY_AF_{name};\n#endif"
        for name in _FAMILIES[1:]
    )
    return f"""\
/* apepy: Cosmopolitan's AF_* are run-time values (they differ between Linux,
   Windows, macOS and the BSDs), which C cannot use as case labels. A switch on a
   family switches on apepy_af(family) instead, whose results are constants.
   A family this system lacks is 0 here, and never matches (only AF_UNSPEC is 0). */
#ifndef APEPY_PORTCOSMO_H
#define APEPY_PORTCOSMO_H
#include <sys/socket.h>

enum {{
{enum},
    APEPY_AF_OTHER
}};

static inline int apepy_af(int af)
{{
    if (af == AF_UNSPEC) return APEPY_AF_UNSPEC;
{tests}
    return APEPY_AF_OTHER;
}}
#endif
"""


def _header_edit(directory: str, subject: str) -> Edit:
    return Edit(
        f"{subject}: the address-family switch header (cosmo)",
        f"{directory}/{HEADER}",
        "",
        _header(),
    )


def _include(subject: str, path: str, after: str) -> Edit:
    return Edit(
        f"{subject}: include {HEADER} (cosmo)",
        path,
        after,
        f'{after}#include "{HEADER}"\n',
    )


def _case_labels(subject: str, path: str, count: int | tuple[int, ...]) -> Edit:
    return Edit(
        f"{subject}: address-family case labels as constants (cosmo)",
        path,
        "case AF_",
        "case APEPY_AF_",
        count=count,
    )


def _switch(subject: str, path: str, expression: str, count: int = 1) -> Edit:
    return Edit(
        f"{subject}: switch ({expression}) on the family's position (cosmo)",
        path,
        f"switch ({expression}) {{",
        f"switch (apepy_af({expression})) {{",
        count=count,
    )


# --- CPython (3.13.15 and 3.11.2: the counts are each release's) -----------------

_SOCKET = "Modules/socketmodule.c"
_SOCKET_SWITCHES = (
    ("res->ai_family", 2),
    ("addr_ret->sa_family", 1),
    ("addr->sa_family", 1),
    ("s->sock_family", 2),
    ("af", 3),
)

_TERMIOS = "Modules/termios.c"
# Entries in termios_constants: 267 in 3.13.15, 245 in 3.11.2 (with the sentinel).
_TERMIOS_SIZE = 512

CPYTHON: tuple[Edit, ...] = (
    _header_edit("Modules", "socket"),
    _include("socket", _SOCKET, '#include "socketmodule.h"\n'),
    _case_labels("socket", _SOCKET, (52, 47)),
    *(_switch("socket", _SOCKET, expr, n) for expr, n in _SOCKET_SWITCHES),
    # termios' table of constants holds the B* speeds and flags, which are run-time
    # values: it is filled when the module is initialised.
    Edit(
        "termios: the constants table filled at init (cosmo)",
        _TERMIOS,
        "static struct constant {\n    char *name;\n    long value;\n} termios_constants[] = {\n",
        "struct constant {\n    char *name;\n    long value;\n};\n\n"
        "/* apepy (cosmo): the values are Cosmopolitan's run-time constants, so the\n"
        "   table is an automatic array copied into this one when termios starts. */\n"
        f"static struct constant termios_constants[{_TERMIOS_SIZE}];\n\n"
        "static void\napepy_termios_constants(void)\n{\n"
        "    const struct constant init[] = {\n",
    ),
    Edit(
        "termios: end of the constants table (cosmo)",
        _TERMIOS,
        "    /* sentinel */\n    {NULL, 0}\n};\n",
        "    /* sentinel */\n    {NULL, 0}\n    };\n"
        '    _Static_assert(sizeof init <= sizeof termios_constants, "apepy: termios table");\n'
        "    memcpy(termios_constants, init, sizeof init);\n}\n",
    ),
    Edit(
        "termios: fill the constants table first (cosmo)",
        _TERMIOS,
        "    struct constant *constant = termios_constants;\n",
        "    apepy_termios_constants();\n    struct constant *constant = termios_constants;\n",
    ),
)

# configure's "getaddrinfo bug" program has `case AF_INET:`; under the true headers it
# does not compile, and configure would conclude getaddrinfo is broken. Cosmopolitan's
# getaddrinfo is musl's and is not.
CPYTHON_CONFIGURE_CACHE: dict[str, str] = {"ac_cv_buggy_getaddrinfo": "no"}


# --- OpenSSL 3.0.20: crypto/bio -------------------------------------------------

_BIO = "crypto/bio"
OPENSSL: tuple[Edit, ...] = (
    _header_edit(_BIO, "openssl"),
    *(
        _include("openssl", f"{_BIO}/{name}", '#include "bio_local.h"\n')
        for name in ("bio_addr.c", "bss_acpt.c", "bss_conn.c", "bss_dgram.c")
    ),
    _case_labels("openssl bio_addr.c", f"{_BIO}/bio_addr.c", 4),
    _switch("openssl bio_addr.c", f"{_BIO}/bio_addr.c", "family"),
    _case_labels("openssl bss_acpt.c", f"{_BIO}/bss_acpt.c", 2),
    _switch("openssl bss_acpt.c", f"{_BIO}/bss_acpt.c", "BIO_ADDRINFO_family(data->addr_iter)"),
    _case_labels("openssl bss_conn.c", f"{_BIO}/bss_conn.c", 2),
    _switch("openssl bss_conn.c", f"{_BIO}/bss_conn.c", "BIO_ADDRINFO_family(data->addr_iter)"),
    _case_labels("openssl bss_dgram.c", f"{_BIO}/bss_dgram.c", 10),
    _switch("openssl bss_dgram.c", f"{_BIO}/bss_dgram.c", "BIO_ADDR_family(addr)"),
    _switch("openssl bss_dgram.c", f"{_BIO}/bss_dgram.c", "addr.sa.sa_family", 2),
    _switch("openssl bss_dgram.c", f"{_BIO}/bss_dgram.c", "BIO_ADDR_family(&data->peer)"),
    _switch("openssl bss_dgram.c", f"{_BIO}/bss_dgram.c", "data->peer.sa.sa_family"),
)


# --- ncurses 6.4: the table of baud rates (B* values) ---------------------------

_BAUDRATE = "ncurses/tinfo/lib_baudrate.c"
NCURSES: tuple[Edit, ...] = (
    Edit(
        "ncurses: the speeds table filled at start (cosmo)",
        _BAUDRATE,
        "static struct speed const speeds[] =\n{\n",
        "/* apepy (cosmo): B* are Cosmopolitan's run-time constants, so the table is an\n"
        "   automatic array copied into this one before main(). */\n"
        "static struct speed speeds[64];\nstatic unsigned apepy_nspeeds;\n\n"
        "static void apepy_speeds_init(void) __attribute__((__constructor__));\n"
        "static void\napepy_speeds_init(void)\n{\n    const struct speed init[] =\n{\n",
    ),
    Edit(
        "ncurses: end of the speeds table (cosmo)",
        _BAUDRATE,
        "#endif\n};\n#endif /* !EXP_WIN32_DRIVER */\n",
        "#endif\n};\n"
        '    _Static_assert(sizeof init <= sizeof speeds, "apepy: speeds table");\n'
        "    memcpy(speeds, init, sizeof init);\n"
        "    apepy_nspeeds = sizeof init / sizeof init[0];\n}\n"
        "#endif /* !EXP_WIN32_DRIVER */\n",
    ),
    Edit(
        "ncurses: the speeds table's length (cosmo)",
        _BAUDRATE,
        "SIZEOF(speeds)",
        "apepy_nspeeds",
        count=2,
    ),
)


# --- libedit 20221030: tty.c's four tables of termios flags and characters ------

_TTY = "src/tty.c"
LIBEDIT: tuple[Edit, ...] = (
    Edit(
        "libedit: tty tables filled at start (cosmo)",
        _TTY,
        "\nstatic const ttyperm_t ttyperm = {\n",
        "\n/* apepy (cosmo): termios flags and characters are Cosmopolitan's run-time\n"
        "   constants, so these tables are automatic arrays copied into the static\n"
        "   ones before main(). */\n"
        "static ttyperm_t ttyperm;\nstatic ttychar_t ttychar;\n"
        "static ttymap_t tty_map[32];\nstatic ttymodes_t ttymodes[256];\n\n"
        "static void apepy_tty_tables(void) __attribute__((__constructor__));\n"
        "static void\napepy_tty_tables(void)\n{\n"
        "const ttyperm_t ttyperm_init = {\n",
    ),
    Edit(
        "libedit: ttychar (cosmo)",
        _TTY,
        "};\n\nstatic const ttychar_t ttychar = {\n",
        "};\nmemcpy(&ttyperm, &ttyperm_init, sizeof(ttyperm_t));\n\n"
        "const ttychar_t ttychar_init = {\n",
    ),
    Edit(
        "libedit: tty_map (cosmo)",
        _TTY,
        "};\n\nstatic const ttymap_t tty_map[] = {\n",
        "};\nmemcpy(&ttychar, &ttychar_init, sizeof(ttychar_t));\n\n"
        "const ttymap_t tty_map_init[] = {\n",
    ),
    Edit(
        "libedit: ttymodes (cosmo)",
        _TTY,
        "};\n\nstatic const ttymodes_t ttymodes[] = {\n",
        "};\n"
        '_Static_assert(sizeof tty_map_init <= sizeof tty_map, "apepy: tty_map");\n'
        "memcpy(tty_map, tty_map_init, sizeof tty_map_init);\n\n"
        "const ttymodes_t ttymodes_init[] = {\n",
    ),
    Edit(
        "libedit: end of the tty tables (cosmo)",
        _TTY,
        "\t{NULL, 0, -1},\n};\n",
        "\t{NULL, 0, -1},\n};\n"
        '_Static_assert(sizeof ttymodes_init <= sizeof ttymodes, "apepy: ttymodes");\n'
        "memcpy(ttymodes, ttymodes_init, sizeof ttymodes_init);\n}\n",
    ),
)
