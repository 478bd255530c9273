/* fuzz_procfs.c — libFuzzer target for the /proc file parsers: stat
 * (common/host/procfs.h) and status, limits, io (common/host/process/process_stats.h). The
 * first byte picks the parser; the rest is the file as read (NUL-terminated,
 * as mm_procfs_read_at leaves it). Seeds: tests/fixtures/proc-M2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/procfs.h"
#include "host/process/process_stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 4;
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    switch (which) {
    case 0: {
        struct mm_procfs_stat st;
        memset(&st, 0, sizeof(st));
        if (mm_procfs_parse_stat(buf, &st) == 0 && !memchr(st.comm, '\0', sizeof(st.comm)))
            abort();
        break;
    }
    case 1: {
        struct mm_proc_sample s;
        memset(&s, 0, sizeof(s));
        (void)mm_proc_parse_status(buf, &s);
        break;
    }
    case 2: {
        int64_t soft = 0, hard = 0;
        (void)mm_proc_parse_limits(buf, &soft, &hard);
        break;
    }
    default: {
        struct mm_proc_sample s;
        memset(&s, 0, sizeof(s));
        (void)mm_proc_parse_io(buf, &s);
        break;
    }
    }
    free(buf);
    return 0;
}
