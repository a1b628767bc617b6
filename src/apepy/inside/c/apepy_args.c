/* apepy: default arguments from the ".args" member of the zip appended to this
 * executable, with the semantics of Cosmopolitan's LoadZipArgs: one argument per
 * line (a trailing CR is dropped, empty lines are skipped); a line "..." marks
 * where the user's arguments go, otherwise they come after the stored ones.
 * Skipped when the environment variable APEPY_PLAIN is "1" or names this
 * executable's real path: that is how a bundled app reaches the plain
 * interpreter (subprocess with sys.executable, multiprocessing's spawn).
 * Only a STORED ".args" member is read; the archive is found from the end of the
 * file, so the executable itself is never parsed. */
#ifndef MS_WINDOWS
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __COSMOPOLITAN__
#include <cosmo.h>
#endif

/* Defined in Python/initconfig.c (apepy's edit): the argv the process was given,
 * kept as CPython's orig_argv when .args replaces argv. */
extern int _Py_apepy_process_argc;
extern char **_Py_apepy_process_argv;

#define APEPY_EOCD_SCAN (22 + 65535)
#define APEPY_MAX_CD (64u * 1024u * 1024u)
#define APEPY_MAX_ARGS_SIZE (1024u * 1024u)

static uint32_t apepy_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t apepy_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int apepy_read_at(FILE *f, long offset, void *buf, size_t size)
{
    return fseek(f, offset, SEEK_SET) == 0 && fread(buf, 1, size, f) == size;
}

static char *apepy_zip_member(const char *path, const char *member, size_t *out_size)
{
    char *result = NULL;
    unsigned char *tail = NULL, *cd = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        goto done;
    }
    long size = ftell(f);
    if (size < 22) {
        goto done;
    }
    long scan = size < APEPY_EOCD_SCAN ? size : APEPY_EOCD_SCAN;
    tail = malloc((size_t)scan);
    if (tail == NULL || !apepy_read_at(f, size - scan, tail, (size_t)scan)) {
        goto done;
    }
    long eocd = -1;
    for (long i = scan - 22; i >= 0; i--) {
        if (memcmp(tail + i, "PK\5\6", 4) == 0) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0) {
        goto done;
    }
    uint32_t cd_size = apepy_u32(tail + eocd + 12);
    uint32_t cd_off = apepy_u32(tail + eocd + 16);
    if (cd_size > APEPY_MAX_CD || (long)cd_off + (long)cd_size > size) {
        goto done;
    }
    cd = malloc(cd_size ? cd_size : 1);
    if (cd == NULL || !apepy_read_at(f, (long)cd_off, cd, cd_size)) {
        goto done;
    }
    size_t member_len = strlen(member);
    for (uint32_t p = 0; p + 46 <= cd_size;) {
        const unsigned char *e = cd + p;
        if (memcmp(e, "PK\1\2", 4) != 0) {
            break;
        }
        uint16_t method = apepy_u16(e + 10);
        uint32_t usize = apepy_u32(e + 24);
        uint32_t csize = apepy_u32(e + 20);
        uint16_t nlen = apepy_u16(e + 28);
        uint32_t skip = 46u + nlen + apepy_u16(e + 30) + apepy_u16(e + 32);
        uint32_t lho = apepy_u32(e + 42);
        if (p + skip > cd_size) {
            break;
        }
        if (nlen == member_len && memcmp(e + 46, member, member_len) == 0) {
            unsigned char local[30];
            if (method != 0 || usize != csize || usize > APEPY_MAX_ARGS_SIZE
                || !apepy_read_at(f, (long)lho, local, sizeof local)
                || memcmp(local, "PK\3\4", 4) != 0) {
                goto done;
            }
            long data = (long)lho + 30 + apepy_u16(local + 26) + apepy_u16(local + 28);
            if (data + (long)usize > size) {
                goto done;
            }
            result = malloc((size_t)usize + 1);
            if (result != NULL && !apepy_read_at(f, data, result, usize)) {
                free(result);
                result = NULL;
            }
            if (result != NULL) {
                result[usize] = '\0';
                *out_size = usize;
            }
            goto done;
        }
        p += skip;
    }
done:
    free(tail);
    free(cd);
    if (f != NULL) {
        fclose(f);
    }
    return result;
}

static void apepy_load_args(int *argc, char ***argv)
{
    char self[PATH_MAX];
#ifdef __COSMOPOLITAN__
    /* Checked only with cosmocc: the libc knows its own executable on every OS
     * (there is no /proc/self/exe on macOS, Windows or the BSDs). */
    const char *path = GetProgramExecutableName();
    (void)self;
#else
    const char *path = realpath("/proc/self/exe", self) ? self : (*argv)[0];
#endif
    if (path == NULL) {
        return;
    }
    const char *plain = getenv("APEPY_PLAIN");
    if (plain != NULL && (strcmp(plain, "1") == 0 || strcmp(plain, path) == 0)) {
        return;
    }
    size_t size = 0;
    char *text = apepy_zip_member(path, ".args", &size);
    if (text == NULL) {
        return;
    }
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += text[i] == '\n';
    }
    char **args = calloc(lines + (size_t)*argc + 1, sizeof(char *));
    if (args == NULL) {
        free(text);
        return;
    }
    int n = 0, spliced = 0;
    args[n++] = (*argv)[0];
    for (char *line = text; line != NULL;) {
        char *next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        if (strcmp(line, "...") == 0) {
            for (int i = 1; i < *argc; i++) {
                args[n++] = (*argv)[i];
            }
            spliced = 1;
        }
        else if (len > 0) {
            args[n++] = line;
        }
        line = next;
    }
    if (!spliced) {
        for (int i = 1; i < *argc; i++) {
            args[n++] = (*argv)[i];
        }
    }
    args[n] = NULL;
    /* text and args live as long as the process: they are argv now. */
    _Py_apepy_process_argc = *argc;
    _Py_apepy_process_argv = *argv;
    *argc = n;
    *argv = args;
}

/* glibc linked statically cannot load NSS plug-ins: dlopen() brings in a second,
 * shared libc, and a lookup that reaches a plug-in (libnss_systemd for a user or
 * group that /etc/passwd lacks, getpwall(), getgrall()) crashes the process.
 * The "files" and "dns" services are part of libc itself, so the static host
 * file looks names up with those alone; a missing user is then a KeyError, as
 * on any system without the plug-in. Cosmopolitan's libc has no NSS. */
#if defined(__GLIBC__) && !defined(__COSMOPOLITAN__)
extern int __nss_configure_lookup(const char *dbname, const char *string);

static void apepy_static_nss(void)
{
    static const char *const files_only[] = {
        "aliases", "ethers", "group", "gshadow", "initgroups", "netgroup",
        "passwd", "protocols", "publickey", "rpc", "services", "shadow",
    };
    for (size_t i = 0; i < sizeof files_only / sizeof files_only[0]; i++) {
        __nss_configure_lookup(files_only[i], "files");
    }
    __nss_configure_lookup("hosts", "files dns");
    __nss_configure_lookup("networks", "files dns");
}
#else
static void apepy_static_nss(void) {}
#endif
#endif /* !MS_WINDOWS */
