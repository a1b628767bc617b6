/* apepy: glibc malloc's main heap on transparent huge pages (the host build,
 * statically linked with glibc).
 *
 * Objects over 512 bytes (code objects, big dicts and tuples, strings) come
 * from malloc, whose main heap grows with sbrk 132 KiB at a time: 900 of the
 * 1,700 page faults of `import json, email, http.server, asyncio` once the
 * arenas are on huge pages (apepy_arenas.c). glibc can put that heap on huge
 * pages itself, but only when told by the environment
 * (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), which a program cannot set for itself.
 *
 * So the executable brings its own __sbrk, which the static link prefers to
 * libc.a's (glibc's malloc is its only caller after start-up). malloc still
 * sees one contiguous heap that grows by exactly what it asks for; underneath,
 * the kernel's break runs ahead to the next 2 MiB boundary and the heap starts
 * on one, and every new stretch is advised MADV_HUGEPAGE, so that each 2 MiB of
 * the heap is one fault and one TLB entry. At most the last, partly used huge
 * page is extra memory, as with glibc's own option. Shrinking gives back whole
 * huge pages. If the break cannot be moved that far (a data limit), it is
 * moved exactly as asked. APEPY_HUGEPAGES=0 in the environment turns it off:
 * then this is glibc's sbrk.
 *
 * In a dynamically linked program libc calls its own sbrk and this is unused. */
#if defined(__linux__) && defined(__GLIBC__) && !defined(__COSMOPOLITAN__)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define APEPY_HEAP_STEP ((uintptr_t)2 << 20)

static char *apepy_heap_end;   /* the break as malloc sees it */
static char *apepy_heap_kernel; /* the kernel's break */
static int apepy_heap_huge;

/* The kernel's brk: the new break, or the old one if it could not move. */
static char *apepy_brk(char *addr)
{
    return (char *)syscall(SYS_brk, addr);
}

static char *apepy_round_up(char *p)
{
    return (char *)(((uintptr_t)p + APEPY_HEAP_STEP - 1) & ~(APEPY_HEAP_STEP - 1));
}

void *__sbrk(intptr_t increment);
void *sbrk(intptr_t increment) __attribute__((weak, alias("__sbrk")));

void *__sbrk(intptr_t increment)
{
    if (apepy_heap_kernel == NULL) {
        apepy_heap_kernel = apepy_heap_end = apepy_brk(NULL);
        const char *off = getenv("APEPY_HUGEPAGES");
        apepy_heap_huge = off == NULL || strcmp(off, "0") != 0;
        if (apepy_heap_huge) {
            /* Untouched address space below the first boundary costs nothing. */
            apepy_heap_end = apepy_round_up(apepy_heap_end);
        }
    }
    char *old = apepy_heap_end;
    if (increment == 0) {
        return old;
    }
    if (increment > 0 ? (uintptr_t)old + (uintptr_t)increment < (uintptr_t)old
                      : (uintptr_t)old < (uintptr_t)-increment) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *want = old + increment;
    char *target = apepy_heap_huge ? apepy_round_up(want) : want;
    if (want > apepy_heap_kernel) {
        char *before = apepy_heap_kernel;
        char *got = apepy_brk(target);
        if (got < target && target != want) {
            target = want;
            got = apepy_brk(want);
        }
        if (got < target) {
            errno = ENOMEM;
            return (void *)-1;
        }
        apepy_heap_kernel = got;
        if (apepy_heap_huge) {
            /* A stretch added to an advised mapping is a mapping of its own
             * until it is advised too; then the kernel merges the two. */
            uintptr_t page = (uintptr_t)getpagesize();
            char *from = (char *)(((uintptr_t)before + page - 1) & ~(page - 1));
            if (got > from) {
                madvise(from, (size_t)(got - from), MADV_HUGEPAGE);
            }
        }
    } else if (increment < 0 && target < apepy_heap_kernel) {
        char *got = apepy_brk(target);
        if (got != target) {
            errno = ENOMEM;
            return (void *)-1;
        }
        apepy_heap_kernel = got;
    }
    apepy_heap_end = want;
    return old;
}
#endif
