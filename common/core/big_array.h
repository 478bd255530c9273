/* big_array.h — zeroed arrays straight from mmap, for tables that grow to
 * megabytes (the distinct-IP map, the socket-cookie table).
 *
 * Pages cost memory only once touched, and a table being moved into a bigger
 * one can hand its drained part back page by page (mm_big_release), so a
 * rebuild that walks the old table in order while writing the new one in
 * order never holds two full tables: the peak is the larger of the two. */
#ifndef MM_BIG_ARRAY_H
#define MM_BIG_ARRAY_H

#include <stddef.h>

/* n elements of size bytes, zeroed; NULL when out of memory or too big. */
void *mm_big_alloc(size_t n, size_t size);
/* Gives back the whole pages inside bytes [from, to) of the array (they
 * read as zero afterwards). */
void mm_big_release(void *base, size_t from, size_t to);
void mm_big_free(void *base, size_t n, size_t size);

#endif
