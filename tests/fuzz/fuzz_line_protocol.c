/* fuzz_line_protocol.c — libFuzzer target for the line-protocol writer
 * (common/outputs/line_protocol.h mm_lp_write_line).
 *
 * Property: the line written parses back, with the small independent parser
 * below, to the same measurement, tags and fields, spelled as the header
 * documents (control characters -> ' ', bad UTF-8 -> U+FFFD via
 * mm_text_sanitize; an ambiguous backslash in names -> '/'; a leading '_' ->
 * 'x_'; key `time` -> `time_`; empty keys and tag values left out; NaN/Inf
 * fields left out). Tags are compared as a multiset (the writer sorts them by
 * raw key), fields in order, integers and doubles exactly.
 *
 * Input: byte 0 = tag count, byte 1 = field count, then length-prefixed
 * strings and values drawn from the rest. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/line_protocol.h"

#define MAXN 8
#define TXT 256

struct src {
    const uint8_t *p;
    size_t n;
};

static uint8_t byte(struct src *s)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

static void text(struct src *s, char *out, size_t cap)
{
    size_t len = byte(s) % (cap / 4), j = 0;
    for (size_t i = 0; i < len && s->n; i++) {
        char c = (char)byte(s);
        if (c)
            out[j++] = c;
    }
    out[j] = '\0';
}

/* ---- the expected spelling, from the documented rules ---- */
enum ctx { C_MEAS, C_KEY, C_TAGV, C_STR };

static void expect(const char *raw, enum ctx ctx, char *out, size_t cap)
{
    char *san = malloc(cap);
    mm_text_sanitize(raw, san, cap);
    size_t j = 0;
    if ((ctx == C_MEAS || ctx == C_KEY) && (san[0] == '_' || (ctx == C_MEAS && san[0] == '#')))
        out[j++] = 'x';
    for (size_t i = 0; san[i]; i++) {
        char c = san[i];
        if (c == '\\' && ctx != C_STR && (san[i + 1] == '\0' || strchr("\\,= \"", san[i + 1])))
            c = '/';
        out[j++] = c;
    }
    out[j] = '\0';
    if (ctx == C_KEY && strcmp(raw, "time") == 0)
        strcat(out, "_");
    free(san);
}

/* ---- an independent parser ---- */
struct parsed {
    char meas[4 * TXT];
    int n_tags, n_fields;
    char tk[MAXN + 1][4 * TXT], tv[MAXN + 1][4 * TXT], fk[MAXN + 1][4 * TXT];
    char ft[MAXN + 1];          /* 'i', 'd', 's' */
    int64_t fi[MAXN + 1];
    double fd[MAXN + 1];
    char fs[MAXN + 1][4 * TXT];
    int64_t ts;
};

/* Reads an unquoted token up to an unescaped char in stop; escapes of esc
 * are undone, any other backslash is literal. */
static const char *token(const char *p, const char *stop, const char *esc, char *out)
{
    size_t j = 0;
    while (*p && !strchr(stop, *p)) {
        if (*p == '\\' && p[1] && strchr(esc, p[1])) {
            out[j++] = p[1];
            p += 2;
        } else {
            out[j++] = *p++;
        }
    }
    out[j] = '\0';
    return p;
}

static int parse(const char *line, struct parsed *r)
{
    memset(r, 0, sizeof(*r));
    const char *p = token(line, ", ", ", ", r->meas);
    while (*p == ',') {
        if (r->n_tags > MAXN)
            return -1;
        p = token(p + 1, "=", ",= ", r->tk[r->n_tags]);
        if (*p != '=')
            return -1;
        p = token(p + 1, ", =", ",= ", r->tv[r->n_tags++]);
    }
    if (*p != ' ')
        return -1;
    p++;
    for (;;) {
        int k = r->n_fields;
        if (k > MAXN)
            return -1;
        p = token(p, "=", ",= ", r->fk[k]);
        if (*p++ != '=')
            return -1;
        if (*p == '"') {
            size_t j = 0;
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                else if (*p == '\\')
                    return -1; /* a lone backslash in a string field */
                r->fs[k][j++] = *p++;
            }
            if (*p++ != '"')
                return -1;
            r->fs[k][j] = '\0';
            r->ft[k] = 's';
        } else {
            char num[64];
            size_t j = 0;
            while (*p && *p != ',' && *p != ' ' && j < sizeof(num) - 1)
                num[j++] = *p++;
            num[j] = '\0';
            char *end;
            if (j > 1 && num[j - 1] == 'i') {
                num[j - 1] = '\0';
                r->fi[k] = strtoll(num, &end, 10);
                r->ft[k] = 'i';
            } else {
                r->fd[k] = strtod(num, &end);
                r->ft[k] = 'd';
            }
            if (j == 0 || *end)
                return -1;
        }
        r->n_fields++;
        if (*p == ',') {
            p++;
            continue;
        }
        break;
    }
    if (*p++ != ' ')
        return -1;
    char *end;
    r->ts = strtoll(p, &end, 10);
    if (end == p || strcmp(end, "\n") != 0)
        return -1;
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    int c = strcmp(x[0], y[0]);
    return c ? c : strcmp(x[1], y[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct src s = {data, size};
    size_t n_tags = byte(&s) % (MAXN + 1), n_fields = 1 + byte(&s) % MAXN;
    static char meas[TXT], tkey[MAXN][TXT], tval[MAXN][TXT], fkey[MAXN][TXT], fstr[MAXN][TXT];
    struct mm_lp_tag tags[MAXN];
    struct mm_lp_field fields[MAXN];
    text(&s, meas, TXT);
    if (!meas[0])
        strcpy(meas, "mtproxy"); /* the writer's measurements are never empty */
    for (size_t i = 0; i < n_tags; i++) {
        text(&s, tkey[i], TXT);
        text(&s, tval[i], TXT);
        tags[i].key = tkey[i];
        tags[i].value = tval[i];
    }
    for (size_t i = 0; i < n_fields; i++) {
        text(&s, fkey[i], TXT);
        memset(&fields[i], 0, sizeof(fields[i]));
        fields[i].key = fkey[i];
        uint8_t t = byte(&s) % 3;
        uint64_t bits = 0;
        for (int b = 0; b < 8; b++)
            bits = bits << 8 | byte(&s);
        if (t == 0) {
            fields[i].type = MM_INT;
            memcpy(&fields[i].i, &bits, 8);
        } else if (t == 1) {
            fields[i].type = MM_DOUBLE;
            memcpy(&fields[i].d, &bits, 8);
        } else {
            fields[i].type = MM_STRING;
            text(&s, fstr[i], TXT);
            fields[i].s = fstr[i];
        }
    }
    int64_t ts = (int64_t)(size * 1000003u);

    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f)
        return 0;
    int rc = mm_lp_write_line(f, meas, tags, n_tags, fields, n_fields, ts);
    fclose(f);

    /* what should come back */
    size_t want_fields = 0;
    for (size_t i = 0; i < n_fields; i++)
        want_fields += fields[i].key[0] && !(fields[i].type == MM_DOUBLE && !isfinite(fields[i].d));
    if (rc < 0)
        abort();
    if (want_fields == 0) {
        if (rc != 0 || out_len != 0)
            abort();
        free(out);
        return 0;
    }
    if (rc != 1 || strlen(out) != out_len || strchr(out, '\n') != out + out_len - 1)
        abort();

    static struct parsed r;
    if (parse(out, &r) != 0)
        abort();
    static char e[4 * TXT];
    expect(meas, C_MEAS, e, sizeof(e));
    if (strcmp(e, r.meas) != 0 || r.ts != ts)
        abort();
    /* tags as a multiset of (key, value) */
    static char ek[MAXN][4 * TXT], ev[MAXN][4 * TXT];
    const char *want[MAXN][2], *got[MAXN + 1][2];
    int nw = 0;
    for (size_t i = 0; i < n_tags; i++) {
        if (!tkey[i][0] || !tval[i][0])
            continue;
        expect(tkey[i], C_KEY, ek[nw], sizeof(ek[nw]));
        expect(tval[i], C_TAGV, ev[nw], sizeof(ev[nw]));
        want[nw][0] = ek[nw];
        want[nw][1] = ev[nw];
        nw++;
    }
    if (nw != r.n_tags)
        abort();
    for (int i = 0; i < r.n_tags; i++) {
        got[i][0] = r.tk[i];
        got[i][1] = r.tv[i];
    }
    qsort(want, (size_t)nw, sizeof(want[0]), cmp_pair);
    qsort(got, (size_t)nw, sizeof(got[0]), cmp_pair);
    for (int i = 0; i < nw; i++)
        if (strcmp(want[i][0], got[i][0]) || strcmp(want[i][1], got[i][1]))
            abort();
    /* fields in order */
    if ((size_t)r.n_fields != want_fields)
        abort();
    int k = 0;
    for (size_t i = 0; i < n_fields; i++) {
        const struct mm_lp_field *fl = &fields[i];
        if (!fl->key[0] || (fl->type == MM_DOUBLE && !isfinite(fl->d)))
            continue;
        expect(fl->key, C_KEY, e, sizeof(e));
        if (strcmp(e, r.fk[k]) != 0)
            abort();
        if (fl->type == MM_INT && (r.ft[k] != 'i' || r.fi[k] != fl->i))
            abort();
        if (fl->type == MM_DOUBLE && (r.ft[k] != 'd' || r.fd[k] != fl->d))
            abort();
        if (fl->type == MM_STRING) {
            expect(fl->s, C_STR, e, sizeof(e));
            if (r.ft[k] != 's' || strcmp(e, r.fs[k]) != 0)
                abort();
        }
        k++;
    }
    free(out);
    return 0;
}
