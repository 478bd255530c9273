/* replay_main.c — a main() for a fuzz target without libFuzzer (make check):
 * every file named, or found under a directory named, is given once to
 * LLVMFuzzerTestOneInput, as `-runs=0` would. A finding aborts (the target's
 * checks) or crashes; a clean run prints "<N> inputs" and exits 0. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0, or -1 with the reason printed */
static int replay_file(const char *path, unsigned long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "%s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    /* an exact-size copy, so that a read past the input's end is one past
     * a malloc'd block, as under libFuzzer */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*n)++;
    return 0;
}

static int replay_path(const char *path, unsigned long *n)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, n);
    struct dirent **names;
    int k = scandir(path, &names, NULL, alphasort);
    if (k < 0) {
        perror(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < k; i++) {
        const char *e = names[i]->d_name;
        if (rc == 0 && strcmp(e, ".") != 0 && strcmp(e, "..") != 0) {
            char *sub = malloc(strlen(path) + strlen(e) + 2);
            if (!sub)
                rc = -1;
            else {
                sprintf(sub, "%s/%s", path, e);
                rc = replay_path(sub, n);
                free(sub);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long n = 0;
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &n) != 0)
            return 2;
    printf("%lu inputs\n", n);
    return 0;
}
