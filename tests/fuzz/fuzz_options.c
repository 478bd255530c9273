/* fuzz_options.c — libFuzzer target for mtproxy-telegraf's flag parsing
 * (telegraf-execd/options.h execd_parse_options). The input is split on NUL
 * and newline bytes into argv (up to 32 arguments, each its own heap copy);
 * whatever it holds, parsing returns 0, 1 or 2 and frees everything. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = strdup("mtproxy-telegraf");
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || data[i] == '\0' || data[i] == '\n') {
            size_t n = i - start;
            char *a = malloc(n + 1);
            if (!a)
                break;
            memcpy(a, data + start, n);
            a[n] = '\0';
            argv[argc++] = a;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    char *copy[MAX_ARGS + 2];
    memcpy(copy, argv, sizeof(copy)); /* getopt may permute argv */
    struct execd_options opts;
    int rc = execd_parse_options(argc, argv, &opts);
    if (rc < 0 || rc > 2)
        abort();
    execd_options_free(&opts);
    for (int i = 0; i < argc; i++)
        free(copy[i]);
    return 0;
}
