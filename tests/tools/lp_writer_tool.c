/* lp_writer_tool.c — feeds arbitrary names and values through the real
 * line-protocol writer (common/outputs/line_protocol.c), for the property
 * test tests/integration/test_telegraf_lp_property.py.
 *
 * stdin, one record per line, tab-separated, every text hex-encoded (so it
 * may hold tabs, newlines and any byte but NUL; an empty column is ""):
 *     L <measurement> <timestamp ns>    starts a line
 *     T <key> <value>                   a tag
 *     I <key> <int64>   D <key> <double>   S <key> <text>   a field
 *     E                                 writes the line
 * stdout: what mm_lp_write_line() wrote; one "#skipped" line per line that
 * had no writable field. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/line_protocol.h"

#define MAX_ITEMS 64

static char *unhex(const char *s)
{
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    if (!out)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            exit(3);
        out[i] = (char)v;
    }
    out[n] = '\0';
    return out;
}

/* Splits in place on tabs; returns the number of columns. */
static int split(char *line, char **cols, int max)
{
    int n = 0;
    cols[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            cols[n++] = p + 1;
        }
    }
    return n;
}

int main(void)
{
    char buf[1 << 16];
    char *measurement = NULL;
    long long ts = 0;
    struct mm_lp_tag tags[MAX_ITEMS];
    struct mm_lp_field fields[MAX_ITEMS];
    char *owned[4 * MAX_ITEMS];
    size_t n_tags = 0, n_fields = 0, n_owned = 0;
    while (fgets(buf, sizeof(buf), stdin)) {
        buf[strcspn(buf, "\n")] = '\0';
        char *c[4];
        int n = split(buf, c, 4);
        if (c[0][0] == 'L' && n == 3) {
            measurement = unhex(c[1]);
            ts = strtoll(c[2], NULL, 10);
        } else if (c[0][0] == 'T' && n == 3 && n_tags < MAX_ITEMS) {
            tags[n_tags].key = owned[n_owned++] = unhex(c[1]);
            tags[n_tags].value = owned[n_owned++] = unhex(c[2]);
            n_tags++;
        } else if (strchr("IDS", c[0][0]) && n == 3 && n_fields < MAX_ITEMS) {
            struct mm_lp_field *f = &fields[n_fields++];
            memset(f, 0, sizeof(*f));
            f->key = owned[n_owned++] = unhex(c[1]);
            if (c[0][0] == 'I') {
                f->type = MM_INT;
                f->i = strtoll(c[2], NULL, 10);
            } else if (c[0][0] == 'D') {
                f->type = MM_DOUBLE;
                f->d = strtod(c[2], NULL);
            } else {
                f->type = MM_STRING;
                f->s = owned[n_owned++] = unhex(c[2]);
            }
        } else if (c[0][0] == 'E' && measurement) {
            int rc = mm_lp_write_line(stdout, measurement, tags, n_tags, fields, n_fields, ts);
            if (rc < 0)
                return 1;
            if (rc == 0)
                puts("#skipped");
            free(measurement);
            measurement = NULL;
            for (size_t i = 0; i < n_owned; i++)
                free(owned[i]);
            n_tags = n_fields = n_owned = 0;
        } else {
            fprintf(stderr, "lp_writer_tool: bad record\n");
            return 2;
        }
    }
    free(measurement);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}
