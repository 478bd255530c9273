/* big_array.c — mmap-backed zeroed arrays (see big_array.h). */
#include "core/big_array.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

void *mm_big_alloc(size_t n, size_t size)
{
    if (n == 0 || size == 0 || n > SIZE_MAX / size)
        return NULL;
    void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mm_big_release(void *base, size_t from, size_t to)
{
    size_t page = page_size();
    uintptr_t start = ((uintptr_t)base + from + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)base + to) & ~(uintptr_t)(page - 1);
    if (end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
}

void mm_big_free(void *base, size_t n, size_t size)
{
    if (base)
        munmap(base, n * size);
}
