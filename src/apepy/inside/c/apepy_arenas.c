/* apepy: pymalloc's arenas from one region that the kernel may back with
 * transparent huge pages (Linux: the host build, and the APE when it runs on
 * Linux).
 *
 * pymalloc takes 1 MiB arenas from mmap one at a time, and each 4 KiB page of
 * them costs a page fault when first touched: ~650 faults for `-c pass`, ~2,100
 * for `import json, email, http.server, asyncio`, about a tenth of start-up's
 * CPU time on a VM. Here the arenas are carved out of a 2 MiB-aligned
 * reservation advised MADV_HUGEPAGE, so that two neighbouring arenas share one
 * huge page: one fault instead of 512, and one TLB entry (CPython's main branch
 * advises its arenas the same way, gh-144319). Where THP is "never" (or the
 * kernel has none) the advice does nothing and the pages stay 4 KiB.
 *
 * The reservation is PROT_NONE, so it is address space only; it is made
 * writable a huge page (two arenas) at a time as arenas are handed out, which is
 * when overcommit accounting charges it, as it charges an arena from mmap. A freed arena gives its memory back
 * (MADV_DONTNEED) and is handed out again first. Once the reservation is used
 * up, arenas come from plain mmap, as before.
 *
 * It is skipped under an address-space limit (ulimit -v), and
 * APEPY_HUGEPAGES=0 in the environment turns it off. */
#if defined(__linux__) || defined(__COSMOPOLITAN__)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __COSMOPOLITAN__
#include <cosmo.h>
#endif

/* Linux's MADV_HUGEPAGE, the same on x86_64 and aarch64. Cosmopolitan's madvise
 * accepts only the portable advice, so there it is the system call itself. */
#define APEPY_MADV_HUGEPAGE 14

static void apepy_advise_huge(void *start, size_t size)
{
#ifndef __COSMOPOLITAN__
    madvise(start, size, APEPY_MADV_HUGEPAGE);
#elif defined(__x86_64__)
    long rc = 28; /* __NR_madvise */
    __asm__ volatile("syscall"
                     : "+a"(rc)
                     : "D"(start), "S"(size), "d"((long)APEPY_MADV_HUGEPAGE)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x0 __asm__("x0") = (long)start;
    register long x1 __asm__("x1") = (long)size;
    register long x2 __asm__("x2") = APEPY_MADV_HUGEPAGE;
    register long x8 __asm__("x8") = 233; /* __NR_madvise */
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
#endif
}

#define APEPY_HUGE_PAGE ((size_t)2 << 20)
/* pymalloc's arena on 64-bit (ARENA_BITS 20). The same hook also serves the
 * interpreter's frame stack chunks (16 KiB and up): those go to mmap as before. */
#define APEPY_ARENA_SIZE ((size_t)1 << 20)
/* 4 GiB of address space: 4,096 arenas. */
#define APEPY_ARENA_RESERVE ((size_t)4 << 30)

static char *apepy_arena_base;
static char *apepy_arena_next;
static char *apepy_arena_writable; /* end of the part made writable so far */
static char *apepy_arena_end;
static void *apepy_arena_reuse; /* freed arenas, linked through their first word */

/* The next arena from the region, or NULL once it is used up. */
static void *apepy_arena_take(void)
{
    if (apepy_arena_reuse != NULL) {
        /* Freed arenas were left writable; the first word links the list. */
        void *arena = apepy_arena_reuse;
        memcpy(&apepy_arena_reuse, arena, sizeof(void *));
        memset(arena, 0, sizeof(void *));
        return arena;
    }
    if (apepy_arena_base == NULL || apepy_arena_next == apepy_arena_end) {
        return NULL;
    }
    /* Writable a whole huge page at a time: the kernel only backs a range with
     * a huge page when one mapping covers all of it. */
    if (apepy_arena_next == apepy_arena_writable) {
        if (mprotect(apepy_arena_writable, APEPY_HUGE_PAGE, PROT_READ | PROT_WRITE) != 0) {
            return NULL;
        }
        apepy_arena_writable += APEPY_HUGE_PAGE;
    }
    void *arena = apepy_arena_next;
    apepy_arena_next += APEPY_ARENA_SIZE;
    return arena;
}

static void *apepy_arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size == APEPY_ARENA_SIZE) {
        void *arena = apepy_arena_take();
        if (arena != NULL) {
            return arena;
        }
    }
    void *arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return arena == MAP_FAILED ? NULL : arena;
}

static void apepy_arena_free(void *ctx, void *arena, size_t size)
{
    (void)ctx;
    char *p = arena;
    if (p >= apepy_arena_base && p < apepy_arena_next) {
        madvise(p, size, MADV_DONTNEED);
        memcpy(p, &apepy_arena_reuse, sizeof(void *));
        apepy_arena_reuse = p;
        return;
    }
    munmap(arena, size);
}

static void apepy_huge_arenas(void)
{
#ifdef __COSMOPOLITAN__
    if (!IsLinux()) {
        return;
    }
#endif
    const char *off = getenv("APEPY_HUGEPAGES");
    if (off != NULL && strcmp(off, "0") == 0) {
        return;
    }
    /* Under an address-space limit the reservation would count against it. */
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur != RLIM_INFINITY) {
        return;
    }
    size_t span = APEPY_ARENA_RESERVE + APEPY_HUGE_PAGE;
    char *region = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        return;
    }
    char *base = (char *)(((uintptr_t)region + APEPY_HUGE_PAGE - 1) & ~(uintptr_t)(APEPY_HUGE_PAGE - 1));
    if (base > region) {
        munmap(region, (size_t)(base - region));
    }
    munmap(base + APEPY_ARENA_RESERVE, (size_t)(region + span - (base + APEPY_ARENA_RESERVE)));
    apepy_advise_huge(base, APEPY_ARENA_RESERVE);
    apepy_arena_base = apepy_arena_next = apepy_arena_writable = base;
    apepy_arena_end = base + APEPY_ARENA_RESERVE;
    PyObjectArenaAllocator arenas = {NULL, apepy_arena_alloc, apepy_arena_free};
    PyObject_SetArenaAllocator(&arenas);
}
#else
static void apepy_huge_arenas(void) {}
#endif
