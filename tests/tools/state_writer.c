/* state_writer.c — the crash-consistency test's writer (issue 25): writes
 * the state file through the core's own code as fast as it can, each
 * payload a counter repeated to SIZE bytes, and prints "N\n" after write N
 * returned; killed with SIGKILL at random moments by
 * tests/integration/test_state_crash.py. With "read" it loads the file the
 * way a starting agent does and prints the counter found, or "none".
 *
 *   state_writer write PATH OWNER SIZE START
 *   state_writer read PATH OWNER */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state_file.h"

static void to_stderr(void *ctx, enum mm_log_level level, const char *message)
{
    (void)ctx;
    fprintf(stderr, "%d %s\n", (int)level, message);
}

int main(int argc, char **argv)
{
    struct mm_logger log = { to_stderr, NULL };
    struct mm_state_file sf;
    if (argc == 6 && strcmp(argv[1], "write") == 0) {
        size_t size = strtoul(argv[4], NULL, 10);
        uint64_t n = strtoull(argv[5], NULL, 10);
        unsigned char *buf = malloc(size < 8 ? 8 : size);
        if (!buf)
            return 1;
        mm_state_file_open(&sf, argv[2], argv[3], &log);
        for (;; n++) {
            for (size_t i = 0; i + 8 <= size; i += 8)
                memcpy(buf + i, &n, 8);
            if (mm_state_file_write(&sf, buf, size, &log) != 0)
                return 1;
            printf("%llu\n", (unsigned long long)n);
            fflush(stdout);
        }
    }
    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        static unsigned char buf[MM_STATE_MAX_BYTES];
        mm_state_file_open(&sf, argv[2], argv[3], &log);
        long len = mm_state_file_read(&sf, buf, sizeof(buf), &log);
        mm_state_file_close(&sf);
        if (len < 8) {
            printf("none\n");
            return 0;
        }
        uint64_t first;
        memcpy(&first, buf, 8);
        for (long i = 0; i + 8 <= len; i += 8)
            if (memcmp(buf + i, &first, 8) != 0) {
                printf("mixed at %ld\n", i);
                return 0;
            }
        printf("%llu %ld\n", (unsigned long long)first, len);
        return 0;
    }
    fprintf(stderr, "usage: state_writer write PATH OWNER SIZE START | read PATH OWNER\n");
    return 2;
}
