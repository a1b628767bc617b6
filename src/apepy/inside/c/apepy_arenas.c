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
 * APEPY_HUGEPAGES=0 in the environment turns it off. The reservation and its
 * opening are apepy_pages.c's. */
#if defined(__linux__) || defined(__COSMOPOLITAN__)
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
        if (apepy_open_reserved(apepy_arena_writable, APEPY_HUGE_PAGE) != 0) {
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
    if (!apepy_huge_pages_wanted()) {
        return;
    }
    char *base = apepy_reserve_huge(APEPY_ARENA_RESERVE);
    if (base == NULL) {
        return;
    }
    apepy_arena_base = apepy_arena_next = apepy_arena_writable = base;
    apepy_arena_end = base + APEPY_ARENA_RESERVE;
    PyObjectArenaAllocator arenas = {NULL, apepy_arena_alloc, apepy_arena_free};
    PyObject_SetArenaAllocator(&arenas);
}
#else
static void apepy_huge_arenas(void) {}
#endif
