/* apepy: the APE's malloc heap on transparent huge pages, where it runs on Linux
 * (the host build's is apepy_heap.c).
 *
 * Objects over 512 bytes come from malloc, which in Cosmopolitan is dlmalloc
 * taking 64 KiB pieces from mmap, each on 4 KiB pages: ~1,000 of the 1,560 page
 * faults of `import json, email, http.server, asyncio` in the APE. dlmalloc's
 * only source of memory is _mapanon() (MMAP_DEFAULT in
 * third_party/dlmalloc/platform.inc of 4.0.2, dlmalloc.c on master), which
 * libcosmo.a defines alone in its member mapanon.o; a definition in the program
 * wins over that member in the static link, as apepy_heap.c's __sbrk does over
 * glibc's. Its other callers (the zip index, fd cursors, the symbol table) want
 * the same kind of memory.
 *
 * Here _mapanon hands out consecutive pieces of one 2 MiB-aligned reservation
 * advised MADV_HUGEPAGE (apepy_pages.c), opened 2 MiB at a time. dlmalloc
 * appends a piece that starts where its top segment ends to that segment, so
 * the heap grows as one advised mapping, like a brk heap: one fault and one TLB
 * entry per 2 MiB. Memory dlmalloc gives back (munmap, mremap) leaves a hole
 * that is not handed out again; it is address space only, and the reservation
 * is 32 GiB. Costs: at most one partly used huge page of memory, and zeroing
 * whole huge pages on first touch.
 *
 * Off Linux, before main (Cosmopolitan's start-up allocates), with
 * APEPY_HUGEPAGES=0, under an address-space limit, or once the reservation is
 * used up: plain mmap, exactly as libcosmo's _mapanon.
 *
 * If a later Cosmopolitan stops calling _mapanon, nothing breaks and the gain is
 * gone: apepy's tests check that a large object in the APE lives in advised
 * memory. */
#ifdef __COSMOPOLITAN__
#include <pthread.h>
#include <stdbool.h> /* Cosmopolitan's ATOMIC_FLAG_INIT says false */
#include <stdatomic.h>

#define APEPY_HEAP_RESERVE ((size_t)32 << 30)

static char *apepy_cheap_next;   /* the next address to hand out */
static char *apepy_cheap_opened; /* the end of the part opened so far */
static char *apepy_cheap_end;    /* the end of the reservation; NULL: not in use */
/* Threads come here at once: dlmalloc locks each of its per-thread heaps on its
 * own, and the other callers take no lock. */
static atomic_flag apepy_cheap_lock = ATOMIC_FLAG_INIT;

static void apepy_cheap_unlock_in_child(void)
{
    /* The child's only thread is the one that forked, which held no lock here;
     * every state the parent's other threads left behind is consistent: a
     * stretch opened but not yet counted is opened again, and nothing in it was
     * handed out. */
    atomic_flag_clear(&apepy_cheap_lock);
}

static char *apepy_cheap_take(size_t size)
{
    char *out = NULL;
    size = (size + 4095) & ~(size_t)4095;
    while (atomic_flag_test_and_set_explicit(&apepy_cheap_lock, memory_order_acquire)) {
    }
    if (size <= (size_t)(apepy_cheap_end - apepy_cheap_next)) {
        char *want = apepy_cheap_next + size;
        if (want > apepy_cheap_opened) {
            char *to = (char *)(((uintptr_t)want + APEPY_HUGE_PAGE - 1) & ~(uintptr_t)(APEPY_HUGE_PAGE - 1));
            if (apepy_open_reserved(apepy_cheap_opened, (size_t)(to - apepy_cheap_opened)) == 0) {
                apepy_cheap_opened = to;
            }
        }
        if (want <= apepy_cheap_opened) {
            out = apepy_cheap_next;
            apepy_cheap_next = want;
        }
    }
    atomic_flag_clear_explicit(&apepy_cheap_lock, memory_order_release);
    return out;
}

void *_mapanon(size_t size)
{
    if (apepy_cheap_end != NULL) {
        char *piece = apepy_cheap_take(size);
        if (piece != NULL) {
            return piece;
        }
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

/* First thing in main, while the process has one thread. */
static void apepy_huge_heap(void)
{
    if (!apepy_huge_pages_wanted()) {
        return;
    }
    char *base = apepy_reserve_huge(APEPY_HEAP_RESERVE);
    if (base == NULL) {
        return;
    }
    if (pthread_atfork(NULL, NULL, apepy_cheap_unlock_in_child) != 0) {
        apepy_unreserve(base, APEPY_HEAP_RESERVE);
        return;
    }
    apepy_cheap_next = apepy_cheap_opened = base;
    apepy_cheap_end = base + APEPY_HEAP_RESERVE;
}
#else
static void apepy_huge_heap(void) {}
#endif
