/* apepy: the memory primitives that the huge-page arenas (apepy_arenas.c) and
 * the APE's malloc heap (apepy_cosmo_heap.c) share: reserve 2 MiB-aligned
 * address space advised MADV_HUGEPAGE, and open it for use a stretch at a time.
 *
 * On the host these are glibc's mmap, mprotect and madvise. In the APE, on
 * Linux, two of them are Linux's system calls themselves, because Cosmopolitan's
 * wrappers get in the way:
 *  - its madvise accepts only the portable advice (EINVAL for MADV_HUGEPAGE);
 *  - its mmap of a PROT_NONE range walks its page bookkeeping 4 KiB at a time
 *    (master after 4.0.2: libc/intrin/mmap.c calls __maps_unmark): 1.2-1.9 ms
 *    of every start for a 4 GiB reservation, against 2 us for the system call.
 * So the reservation is the raw system call, unknown to Cosmopolitan. Memory in
 * it is opened with Cosmopolitan's own mmap(MAP_FIXED), never a raw mprotect:
 * its munmap, mprotect and mremap act only on mappings it made, and CPython died
 * at start ("Failed to import encodings module") on memory opened otherwise.
 * Linux gives the other mappings of the process addresses outside the
 * reservation, and Cosmopolitan leaves the choice of address to Linux there.
 *
 * APEPY_HUGEPAGES=0 in the environment turns all of it off. */
#if defined(__linux__) || defined(__COSMOPOLITAN__)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __COSMOPOLITAN__
#include <cosmo.h>
#endif

#define APEPY_HUGE_PAGE ((size_t)2 << 20)

#ifdef __COSMOPOLITAN__
/* Linux's numbers, the same on x86_64 and aarch64 unless two are given. */
#define APEPY_LX_PROT_NONE 0
#define APEPY_LX_MAP_PRIVATE_ANONYMOUS 0x22
#define APEPY_LX_MAP_NORESERVE 0x4000
#define APEPY_LX_MADV_HUGEPAGE 14

static long apepy_linux(long x86_64_nr, long aarch64_nr, long a, long b, long c, long d,
                        long e, long f)
{
#if defined(__x86_64__)
    (void)aarch64_nr;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long rc = x86_64_nr;
    __asm__ volatile("syscall"
                     : "+a"(rc)
                     : "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return rc;
#elif defined(__aarch64__)
    (void)x86_64_nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    register long x8 __asm__("x8") = aarch64_nr;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5), "r"(x8)
                     : "memory");
    return x0;
#else
    (void)x86_64_nr, (void)aarch64_nr, (void)a, (void)b, (void)c, (void)d, (void)e, (void)f;
    return -38; /* ENOSYS */
#endif
}
#endif

/* Whether huge pages are wanted at all: on Linux, not turned off, and no
 * address-space limit that a reservation would count against. */
static int apepy_huge_pages_wanted(void)
{
#ifdef __COSMOPOLITAN__
    if (!IsLinux()) {
        return 0;
    }
#endif
    const char *off = getenv("APEPY_HUGEPAGES");
    if (off != NULL && strcmp(off, "0") == 0) {
        return 0;
    }
    struct rlimit limit;
    return getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY;
}

static void apepy_advise_huge(void *start, size_t size)
{
#ifdef __COSMOPOLITAN__
    apepy_linux(28, 233, (long)start, (long)size, APEPY_LX_MADV_HUGEPAGE, 0, 0, 0);
#else
    madvise(start, size, MADV_HUGEPAGE);
#endif
}

static void apepy_unreserve(char *start, size_t size)
{
    if (size == 0) {
        return;
    }
#ifdef __COSMOPOLITAN__
    apepy_linux(11, 215, (long)start, (long)size, 0, 0, 0, 0);
#else
    munmap(start, size);
#endif
}

/* SIZE bytes of address space (a multiple of 2 MiB) starting on a 2 MiB
 * boundary, inaccessible and advised MADV_HUGEPAGE; NULL if there is none. */
static char *apepy_reserve_huge(size_t size)
{
    size_t span = size + APEPY_HUGE_PAGE;
#ifdef __COSMOPOLITAN__
    long got = apepy_linux(9, 222, 0, (long)span, APEPY_LX_PROT_NONE,
                           APEPY_LX_MAP_PRIVATE_ANONYMOUS | APEPY_LX_MAP_NORESERVE, -1, 0);
    if (got < 0 && got > -4096) {
        return NULL;
    }
    char *region = (char *)got;
#else
    /* PROT_NONE is not charged to overcommit; the stretches are, once opened. */
    char *region = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        return NULL;
    }
#endif
    char *base = (char *)(((uintptr_t)region + APEPY_HUGE_PAGE - 1) & ~(uintptr_t)(APEPY_HUGE_PAGE - 1));
    apepy_unreserve(region, (size_t)(base - region));
    apepy_unreserve(base + size, (size_t)(region + span - (base + size)));
    apepy_advise_huge(base, size);
    return base;
}

/* Makes [start, start + size) of a reservation readable and writable; 0 on success. */
static int apepy_open_reserved(char *start, size_t size)
{
#ifdef __COSMOPOLITAN__
    if (mmap(start, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        != (void *)start) {
        return -1;
    }
    /* A MAP_FIXED mapping is a new VMA without the reservation's advice; advised
     * again, the kernel merges it with its advised neighbours. */
    apepy_advise_huge(start, size);
    return 0;
#else
    return mprotect(start, size, PROT_READ | PROT_WRITE);
#endif
}
#endif
