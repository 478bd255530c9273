/* prometheus_text.c — Prometheus / OpenMetrics text parser (see
 * prometheus_text.h). One pass over the body, one line at a time; each line is
 * fully checked before anything of it is stored, so a bad line leaves no
 * trace but a count. Strings live in a block arena, families and series are
 * found through open-addressing hash tables; all of it is reused between
 * parses. */
#include "sources/prometheus_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/number.h"
#include "sources/parse_note.h"

#define ARENA_BLOCK (64 * 1024)
#define LABELS_HARD_MAX 64 /* stack buffer for one line's labels */

struct mm_prom_arena_block {
    struct mm_prom_arena_block *next;
    size_t size, used;
    char data[];
};

void mm_prom_limits_default(struct mm_prom_limits *lim)
{
    lim->line_max = 16 * 1024;
    lim->labels_max = 16;
    lim->label_name_max = 64;
    lim->label_value_max = 256;
    lim->name_max = 128;
    lim->series_per_family_max = 2000;
    lim->series_max = 10000;
    lim->families_max = 2000;
}

void mm_prom_page_init(struct mm_prom_page *page)
{
    memset(page, 0, sizeof(*page));
}

void mm_prom_page_free(struct mm_prom_page *page)
{
    struct mm_prom_arena_block *b = page->arena;
    while (b) {
        struct mm_prom_arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(page->families);
    free(page->samples);
    free(page->labels);
    free(page->family_index);
    free(page->series_index);
    mm_prom_page_init(page);
}

const char *mm_prom_type_name(enum mm_prom_type type)
{
    static const char *const names[] = { "untyped", "counter", "gauge", "histogram",
                                         "summary", "info", "stateset", "gaugehistogram" };
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "untyped";
}

/* ---- arena ---------------------------------------------------------------------------- */

static void arena_reset(struct mm_prom_page *page)
{
    for (struct mm_prom_arena_block *b = page->arena; b; b = b->next)
        b->used = 0;
}

/* A NUL-terminated copy of s[0..len), or NULL when memory ran out. Blocks are
 * reused first; a new one is added in front when none has room. */
static char *arena_strndup(struct mm_prom_page *page, const char *s, size_t len)
{
    struct mm_prom_arena_block *b;
    for (b = page->arena; b; b = b->next)
        if (b->size - b->used > len)
            break;
    if (!b) {
        size_t size = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = page->arena;
        page->arena = b;
    }
    char *out = b->data + b->used;
    memcpy(out, s, len);
    out[len] = '\0';
    b->used += len + 1;
    return out;
}

/* ---- hashing -------------------------------------------------------------------------- */

/* ---- parse context -------------------------------------------------------------------- */

struct line_label {
    const char *name; /* in the body */
    size_t name_len;
    char *value;      /* unescaped, in ctx->valbuf */
    size_t value_len;
};

struct ctx {
    struct mm_prom_page *page;
    const struct mm_prom_limits *lim;
    struct mm_prom_result *res;
    uint64_t seed;
    unsigned line_no;
    bool oom;
    char *valbuf; /* unescaped label values of one line, line_max bytes */
};

static void note(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mm_parse_note(c->res->first_error, sizeof(c->res->first_error), c->line_no, fmt, ap);
    va_end(ap);
}

#define SKIP(c, ...)                                                                                       \
    do {                                                                                                   \
        (c)->res->skipped++;                                                                               \
        note((c), __VA_ARGS__);                                                                            \
    } while (0)

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':';
}

static bool name_char(char ch)
{
    return name_start(ch) || (ch >= '0' && ch <= '9');
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
    while (i < len && is_blank(s[i]))
        i++;
    return i;
}

/* Length of the metric name at s[i..len) (0 when none). Label names use the
 * same scan without ':' (checked by the caller). */
static size_t scan_name(const char *s, size_t i, size_t len)
{
    size_t j = i;
    if (j < len && name_start(s[j]))
        for (j++; j < len && name_char(s[j]); j++)
            ;
    return j - i;
}

static bool valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        size_t n;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 1, cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2, cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3, cp = b & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false; /* cut short */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- families ------------------------------------------------------------------------- */

static bool ensure_tables(struct ctx *c)
{
    struct mm_prom_page *page = c->page;
    size_t fcap = mm_pow2_at_least((size_t)c->lim->families_max * 2 + 2, 16);
    if (page->family_index_cap < fcap) {
        unsigned *t = realloc(page->family_index, fcap * sizeof(*t));
        if (!t)
            return false;
        page->family_index = t;
        page->family_index_cap = fcap;
    }
    size_t scap = mm_pow2_at_least((size_t)c->lim->series_max * 2 + 2, 16);
    if (page->series_index_cap < scap) {
        unsigned *t = realloc(page->series_index, scap * sizeof(*t));
        if (!t)
            return false;
        page->series_index = t;
        page->series_index_cap = scap;
    }
    memset(page->family_index, 0, page->family_index_cap * sizeof(unsigned));
    memset(page->series_index, 0, page->series_index_cap * sizeof(unsigned));
    return true;
}

/* Index of family name[0..len) or -1; *slot receives where it would go. */
static long family_lookup(struct ctx *c, const char *name, size_t len, size_t *slot)
{
    struct mm_prom_page *page = c->page;
    size_t mask = page->family_index_cap - 1;
    size_t h = (size_t)mm_hash_mix(mm_hash_bytes(c->seed, name, len)) & mask;
    for (;; h = (h + 1) & mask) {
        unsigned v = page->family_index[h];
        if (v == 0) {
            *slot = h;
            return -1;
        }
        const char *fn = page->families[v - 1].name;
        if (strncmp(fn, name, len) == 0 && fn[len] == '\0')
            return (long)v - 1;
    }
}

/* Finds or creates a family; -1 when over the limit or out of memory. */
static long family_get(struct ctx *c, const char *name, size_t len, bool *created)
{
    size_t slot;
    long idx = family_lookup(c, name, len, &slot);
    *created = false;
    if (idx >= 0)
        return idx;
    struct mm_prom_page *page = c->page;
    if (page->n_families >= c->lim->families_max)
        return -1;
    if (page->n_families == page->cap_families) {
        size_t cap = page->cap_families ? page->cap_families * 2 : 64;
        struct mm_prom_family *f = realloc(page->families, cap * sizeof(*f));
        if (!f) {
            c->oom = true;
            return -1;
        }
        page->families = f;
        page->cap_families = cap;
    }
    char *copy = arena_strndup(page, name, len);
    if (!copy) {
        c->oom = true;
        return -1;
    }
    struct mm_prom_family *f = &page->families[page->n_families];
    memset(f, 0, sizeof(*f));
    f->name = copy;
    f->type = MM_PROM_UNTYPED;
    page->family_index[slot] = (unsigned)++page->n_families;
    *created = true;
    return (long)page->n_families - 1;
}

/* ---- comments: HELP, TYPE, UNIT, EOF -------------------------------------------------- */

static bool parse_type_word(const char *s, size_t len, enum mm_prom_type *t)
{
    static const struct {
        const char *word;
        enum mm_prom_type type;
    } words[] = {
        { "counter", MM_PROM_COUNTER },     { "gauge", MM_PROM_GAUGE },
        { "histogram", MM_PROM_HISTOGRAM }, { "summary", MM_PROM_SUMMARY },
        { "untyped", MM_PROM_UNTYPED },     { "unknown", MM_PROM_UNTYPED },
        { "info", MM_PROM_INFO },           { "stateset", MM_PROM_STATESET },
        { "gaugehistogram", MM_PROM_GAUGEHISTOGRAM },
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i].word) == len && memcmp(words[i].word, s, len) == 0) {
            *t = words[i].type;
            return true;
        }
    return false;
}

/* Returns 1 on "# EOF" (stop), 0 otherwise. */
static int parse_comment(struct ctx *c, const char *s, size_t len)
{
    size_t i = skip_blanks(s, 1, len);
    size_t kw = i;
    while (i < len && !is_blank(s[i]))
        i++;
    size_t kw_len = i - kw;
    if (kw_len == 3 && memcmp(s + kw, "EOF", 3) == 0 && skip_blanks(s, i, len) == len) {
        c->res->openmetrics = true;
        return 1;
    }
    bool is_type = kw_len == 4 && memcmp(s + kw, "TYPE", 4) == 0;
    bool is_help = kw_len == 4 && memcmp(s + kw, "HELP", 4) == 0;
    bool is_unit = kw_len == 4 && memcmp(s + kw, "UNIT", 4) == 0;
    if (!is_type && !is_help && !is_unit)
        return 0; /* a plain comment */
    if (i == len || !is_blank(s[i])) {
        SKIP(c, "%.4s without a metric name", s + kw);
        return 0;
    }
    i = skip_blanks(s, i, len);
    size_t name_len = scan_name(s, i, len);
    if (name_len == 0 || (i + name_len < len && !is_blank(s[i + name_len]))) {
        SKIP(c, "%.4s: invalid metric name", s + kw);
        return 0;
    }
    if (name_len > c->lim->name_max) {
        SKIP(c, "%.4s: metric name longer than %zu bytes", s + kw, c->lim->name_max);
        return 0;
    }
    const char *name = s + i;
    i = skip_blanks(s, i + name_len, len);

    if (is_unit)
        return 0; /* OpenMetrics UNIT: the name says it already */
    if (is_help) {
        /* HELP text: only \\ and \n (and OpenMetrics' \") are escapes. */
        for (size_t k = i; k < len; k++)
            if (s[k] == '\\') {
                if (k + 1 == len || (s[k + 1] != '\\' && s[k + 1] != 'n' && s[k + 1] != '"')) {
                    SKIP(c, "HELP %.*s: invalid escape sequence", (int)(name_len > 60 ? 60 : name_len), name);
                    return 0;
                }
                k++;
            }
        return 0; /* the text itself is not kept */
    }

    size_t tw = i;
    while (i < len && !is_blank(s[i]))
        i++;
    enum mm_prom_type type;
    if (!parse_type_word(s + tw, i - tw, &type) || skip_blanks(s, i, len) != len) {
        SKIP(c, "TYPE %.*s: unknown type", (int)(name_len > 60 ? 60 : name_len), name);
        return 0;
    }
    bool created;
    long idx = family_get(c, name, name_len, &created);
    if (idx < 0) {
        if (!c->oom) {
            c->res->over_limit++;
            note(c, "more than %u metric families", c->lim->families_max);
        }
        return 0;
    }
    struct mm_prom_family *f = &c->page->families[idx];
    if (f->typed || f->n_samples) {
        SKIP(c, "TYPE %s: %s", f->name, f->typed ? "second TYPE line" : "TYPE after its samples");
        return 0;
    }
    f->typed = true;
    f->type = type;
    return 0;
}

/* ---- samples -------------------------------------------------------------------------- */

/* Which suffixes a family type accepts beyond its bare name. */
static bool suffix_allowed(enum mm_prom_type t, const char *suffix)
{
    switch (t) {
    case MM_PROM_COUNTER:
        return !strcmp(suffix, "_total") || !strcmp(suffix, "_created");
    case MM_PROM_HISTOGRAM:
        return !strcmp(suffix, "_bucket") || !strcmp(suffix, "_sum") || !strcmp(suffix, "_count") ||
               !strcmp(suffix, "_created");
    case MM_PROM_GAUGEHISTOGRAM:
        return !strcmp(suffix, "_bucket") || !strcmp(suffix, "_gsum") || !strcmp(suffix, "_gcount");
    case MM_PROM_SUMMARY:
        return !strcmp(suffix, "_sum") || !strcmp(suffix, "_count") || !strcmp(suffix, "_created");
    case MM_PROM_INFO:
        return !strcmp(suffix, "_info");
    default:
        return false;
    }
}

static bool bare_allowed(enum mm_prom_type t)
{
    return t != MM_PROM_HISTOGRAM && t != MM_PROM_GAUGEHISTOGRAM && t != MM_PROM_INFO;
}

/* The family of sample name[0..len): the family of that exact name, else a
 * typed family the name is a suffix form of, else a new untyped family.
 * Returns -1 (with the reason noted) when the sample cannot belong anywhere. */
static long sample_family(struct ctx *c, const char *name, size_t len, const char **suffix_out)
{
    static const char *const suffixes[] = { "_total", "_created", "_bucket", "_sum", "_count",
                                             "_gsum", "_gcount", "_info" };
    size_t slot;
    *suffix_out = "";
    long idx = family_lookup(c, name, len, &slot);
    if (idx >= 0 && (c->page->families[idx].typed || c->page->families[idx].n_samples))
        return idx;
    for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
        size_t sl = strlen(suffixes[k]);
        if (len <= sl || memcmp(name + len - sl, suffixes[k], sl) != 0)
            continue;
        size_t base_slot;
        long base = family_lookup(c, name, len - sl, &base_slot);
        if (base >= 0 && c->page->families[base].typed &&
            suffix_allowed(c->page->families[base].type, suffixes[k])) {
            *suffix_out = suffixes[k];
            return base;
        }
    }
    if (idx >= 0)
        return idx; /* a family a HELP line opened */
    bool created;
    idx = family_get(c, name, len, &created);
    if (idx < 0 && !c->oom) {
        c->res->over_limit++;
        note(c, "more than %u metric families", c->lim->families_max);
    }
    return idx;
}

static int label_cmp(const void *a, const void *b)
{
    const struct line_label *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int r = memcmp(x->name, y->name, n);
    return r ? r : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Reads {name="value",...} starting at s[*pos] == '{'. Returns the number of
 * labels (empty values dropped, as Prometheus does), or -1 (noted). */
static int parse_labels(struct ctx *c, const char *s, size_t len, size_t *pos, struct line_label *out,
                        size_t max_out)
{
    size_t i = *pos + 1, vb = 0;
    int n = 0;
    for (;;) {
        i = skip_blanks(s, i, len);
        if (i < len && s[i] == '}') {
            i++;
            break;
        }
        size_t nl = scan_name(s, i, len);
        if (nl == 0 || memchr(s + i, ':', nl)) {
            SKIP(c, "invalid label name");
            return -1;
        }
        if (nl > c->lim->label_name_max) {
            SKIP(c, "label name longer than %zu bytes", c->lim->label_name_max);
            return -1;
        }
        const char *lname = s + i;
        i = skip_blanks(s, i + nl, len);
        if (i >= len || s[i] != '=') {
            SKIP(c, "label %.*s: '=' expected", (int)nl, lname);
            return -1;
        }
        i = skip_blanks(s, i + 1, len);
        if (i >= len || s[i] != '"') {
            SKIP(c, "label %.*s: '\"' expected", (int)nl, lname);
            return -1;
        }
        i++;
        char *value = c->valbuf + vb;
        size_t vl = 0;
        for (;;) {
            if (i >= len) {
                SKIP(c, "label %.*s: unterminated value", (int)nl, lname);
                return -1;
            }
            char ch = s[i++];
            if (ch == '"')
                break;
            if (ch == '\\') {
                char e = i < len ? s[i++] : '\0';
                if (e == '\\' || e == '"')
                    ch = e;
                else if (e == 'n')
                    ch = '\n';
                else {
                    SKIP(c, "label %.*s: invalid escape sequence", (int)nl, lname);
                    return -1;
                }
            }
            if (vl >= c->lim->label_value_max) {
                SKIP(c, "label %.*s: value longer than %zu bytes", (int)nl, lname, c->lim->label_value_max);
                return -1;
            }
            value[vl++] = ch;
        }
        if (!valid_utf8((const unsigned char *)value, vl)) {
            SKIP(c, "label %.*s: value is not UTF-8", (int)nl, lname);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if (out[k].name_len == nl && memcmp(out[k].name, lname, nl) == 0) {
                SKIP(c, "label %.*s given twice", (int)nl, lname);
                return -1;
            }
        if (vl > 0) {
            if ((size_t)n >= max_out || (unsigned)n >= c->lim->labels_max) {
                SKIP(c, "more than %u labels", c->lim->labels_max);
                return -1;
            }
            value[vl] = '\0';
            out[n++] = (struct line_label){ lname, nl, value, vl };
            vb += vl + 1;
        }
        i = skip_blanks(s, i, len);
        if (i < len && s[i] == ',') {
            i++;
            continue;
        }
        if (i < len && s[i] == '}') {
            i++;
            break;
        }
        SKIP(c, "',' or '}' expected in labels");
        return -1;
    }
    *pos = i;
    return n;
}

static uint64_t series_hash(struct ctx *c, const char *name, size_t len, const struct line_label *l, int n)
{
    uint64_t h = mm_hash_bytes(c->seed, name, len);
    for (int k = 0; k < n; k++) {
        h = mm_hash_bytes(h, "\xff", 1);
        h = mm_hash_bytes(h, l[k].name, l[k].name_len);
        h = mm_hash_bytes(h, "\xfe", 1);
        h = mm_hash_bytes(h, l[k].value, l[k].value_len);
    }
    return mm_hash_mix(h);
}

static bool same_series(const struct mm_prom_page *page, const struct mm_prom_sample *s, const char *name,
                        size_t len, const struct line_label *l, int n)
{
    if ((int)s->n_labels != n || strncmp(s->name, name, len) != 0 || s->name[len] != '\0')
        return false;
    for (int k = 0; k < n; k++) {
        const struct mm_prom_label *pl = &page->labels[s->first_label + (unsigned)k];
        if (strncmp(pl->name, l[k].name, l[k].name_len) != 0 || pl->name[l[k].name_len] != '\0' ||
            strcmp(pl->value, l[k].value) != 0)
            return false;
    }
    return true;
}

static bool grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *p = realloc(*items, c * size);
    if (!p)
        return false;
    *items = p;
    *cap = c;
    return true;
}

static void parse_sample(struct ctx *c, const char *s, size_t len)
{
    if (memchr(s, '\0', len)) {
        SKIP(c, "NUL byte");
        return;
    }
    size_t name_len = scan_name(s, 0, len);
    if (name_len == 0) {
        SKIP(c, "not a metric name");
        return;
    }
    if (name_len > c->lim->name_max) {
        SKIP(c, "metric name longer than %zu bytes", c->lim->name_max);
        return;
    }
    size_t i = name_len;
    if (skip_blanks(s, i, len) < len && s[skip_blanks(s, i, len)] == '{')
        i = skip_blanks(s, i, len);
    struct line_label labels[LABELS_HARD_MAX];
    int n = 0;
    bool braces = i < len && s[i] == '{';
    if (braces) {
        n = parse_labels(c, s, len, &i, labels, LABELS_HARD_MAX);
        if (n < 0)
            return;
    }
    size_t vstart = skip_blanks(s, i, len);
    if ((vstart == i && !braces) || vstart == len) { /* Go reads "a{l="x"}1" too */
        SKIP(c, "%.*s: no value", (int)(name_len > 60 ? 60 : name_len), s);
        return;
    }
    size_t vend = vstart;
    while (vend < len && !is_blank(s[vend]))
        vend++;
    double value;
    if (!mm_parse_float(s + vstart, vend - vstart, true, &value)) {
        SKIP(c, "%.*s: value '%.*s' is not a number", (int)(name_len > 60 ? 60 : name_len), s,
             (int)(vend - vstart > 24 ? 24 : vend - vstart), s + vstart);
        return;
    }
    /* An optional timestamp (ignored), then an optional OpenMetrics exemplar. */
    i = skip_blanks(s, vend, len);
    if (i < len && s[i] != '#') {
        size_t tend = i;
        while (tend < len && !is_blank(s[tend]))
            tend++;
        double ts;
        if (!mm_parse_float(s + i, tend - i, false, &ts)) {
            SKIP(c, "%.*s: bad timestamp", (int)(name_len > 60 ? 60 : name_len), s);
            return;
        }
        i = skip_blanks(s, tend, len);
    }
    if (i < len && !(s[i] == '#' && i + 1 < len && is_blank(s[i + 1]))) {
        SKIP(c, "%.*s: text after the value", (int)(name_len > 60 ? 60 : name_len), s);
        return;
    }

    qsort(labels, (size_t)n, sizeof(labels[0]), label_cmp);

    const char *suffix;
    long fam = sample_family(c, s, name_len, &suffix);
    if (fam < 0)
        return;
    struct mm_prom_family *f = &c->page->families[fam];
    if (!*suffix && !bare_allowed(f->type)) {
        SKIP(c, "%s: a %s needs a suffixed sample name", f->name, mm_prom_type_name(f->type));
        return;
    }
    /* le / quantile must be numbers where they mean one. */
    const char *need = NULL;
    if (f->type == MM_PROM_HISTOGRAM || f->type == MM_PROM_GAUGEHISTOGRAM)
        need = !strcmp(suffix, "_bucket") ? "le" : NULL;
    else if (f->type == MM_PROM_SUMMARY && !*suffix)
        need = "quantile";
    if (need) {
        int k;
        for (k = 0; k < n; k++)
            if (labels[k].name_len == strlen(need) && memcmp(labels[k].name, need, labels[k].name_len) == 0)
                break;
        double bound;
        if (k == n || !mm_parse_float(labels[k].value, labels[k].value_len, true, &bound) || isnan(bound)) {
            SKIP(c, "%s: sample without a numeric '%s' label", f->name, need);
            return;
        }
    }

    struct mm_prom_page *page = c->page;
    uint64_t h = series_hash(c, s, name_len, labels, n);
    size_t mask = page->series_index_cap - 1;
    size_t slot = (size_t)h & mask;
    for (;; slot = (slot + 1) & mask) {
        unsigned v = page->series_index[slot];
        if (v == 0)
            break;
        if (same_series(page, &page->samples[v - 1], s, name_len, labels, n)) {
            c->res->duplicates++;
            note(c, "%.*s: duplicate series (the first one is kept)", (int)(name_len > 60 ? 60 : name_len), s);
            return;
        }
    }
    if (page->n_samples >= c->lim->series_max) {
        c->res->over_limit++;
        note(c, "more than %u series on the page", c->lim->series_max);
        return;
    }
    if (f->n_samples >= c->lim->series_per_family_max) {
        c->res->over_limit++;
        note(c, "%s: more than %u series in the family", f->name, c->lim->series_per_family_max);
        return;
    }
    if (!grow((void **)&page->samples, &page->cap_samples, page->n_samples + 1, sizeof(*page->samples)) ||
        !grow((void **)&page->labels, &page->cap_labels, page->n_labels + (size_t)n, sizeof(*page->labels))) {
        c->oom = true;
        return;
    }
    /* The family's name already holds the sample name when there is no suffix. */
    const char *sname = *suffix ? arena_strndup(page, s, name_len) : f->name;
    if (!sname) {
        c->oom = true;
        return;
    }
    size_t first = page->n_labels;
    for (int k = 0; k < n; k++) {
        const char *ln = arena_strndup(page, labels[k].name, labels[k].name_len);
        const char *lv = arena_strndup(page, labels[k].value, labels[k].value_len);
        if (!ln || !lv) {
            c->oom = true;
            return;
        }
        page->labels[first + (size_t)k] = (struct mm_prom_label){ ln, lv };
    }
    page->n_labels += (size_t)n;
    struct mm_prom_sample *smp = &page->samples[page->n_samples];
    smp->name = sname;
    smp->family = (unsigned)fam;
    smp->first_label = (unsigned)first;
    smp->n_labels = (unsigned)n;
    smp->value = value;
    page->series_index[slot] = (unsigned)++page->n_samples;
    f->n_samples++;
    c->res->samples++;
    if (!isfinite(value))
        c->res->nonfinite++;
}

/* ---- entry points --------------------------------------------------------------------- */

int mm_prom_parse(struct mm_prom_page *page, const char *body, size_t len, const struct mm_prom_limits *lim)
{
    struct mm_prom_limits defaults;
    if (!lim) {
        mm_prom_limits_default(&defaults);
        lim = &defaults;
    }
    page->n_families = page->n_samples = page->n_labels = 0;
    memset(&page->res, 0, sizeof(page->res));
    arena_reset(page);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    struct ctx c = {
        .page = page,
        .lim = lim,
        .res = &page->res,
        /* a per-parse seed: a hostile page cannot aim at one hash bucket */
        .seed = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)page ^ ((uint64_t)ts.tv_nsec << 20),
    };
    c.valbuf = malloc(lim->line_max + 1);
    if (!c.valbuf || !ensure_tables(&c)) {
        free(c.valbuf);
        snprintf(page->res.first_error, sizeof(page->res.first_error), "out of memory");
        return -1;
    }

    const char *p = body, *end = body + len;
    while (p < end && !c.oom) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        c.line_no++;
        page->res.lines++;
        if (line_len > lim->line_max) {
            SKIP(&c, "line of %zu bytes is longer than %zu", line_len, lim->line_max);
        } else {
            size_t l = line_len;
            if (l > 0 && p[l - 1] == '\r')
                l--; /* tolerate CRLF */
            size_t start = skip_blanks(p, 0, l);
            if (start < l) {
                if (p[start] == '#') {
                    if (parse_comment(&c, p + start, l - start))
                        break;
                } else {
                    parse_sample(&c, p + start, l - start);
                }
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    free(c.valbuf);
    if (c.oom) {
        snprintf(page->res.first_error, sizeof(page->res.first_error), "line %u: out of memory", c.line_no);
        return -1;
    }
    if (page->n_samples == 0) {
        if (len == 0)
            snprintf(page->res.first_error, sizeof(page->res.first_error), "empty body");
        else if (!page->res.first_error[0])
            snprintf(page->res.first_error, sizeof(page->res.first_error), "no samples");
        return -1;
    }
    return 0;
}

int mm_prom_sniff(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len)
        return 0;
    if (body[i] == '#')
        return 1;
    size_t nl = scan_name(body, i, len);
    if (nl == 0)
        return 0;
    i += nl;
    if (i < len && body[i] == '{')
        return 1;
    if (i >= len || body[i] != ' ')
        return 0; /* key<TAB>value is MTProxy's /stats */
    i = skip_blanks(body, i, len);
    size_t v = i;
    while (i < len && !is_blank(body[i]) && body[i] != '\n' && body[i] != '\r')
        i++;
    double d;
    return mm_parse_float(body + v, i - v, true, &d) ? 1 : 0;
}

const char *mm_prom_label_value(const struct mm_prom_page *page, const struct mm_prom_sample *s,
                                const char *name)
{
    for (unsigned k = 0; k < s->n_labels; k++)
        if (strcmp(page->labels[s->first_label + k].name, name) == 0)
            return page->labels[s->first_label + k].value;
    return NULL;
}

const struct mm_prom_family *mm_prom_find_family(const struct mm_prom_page *page, const char *name)
{
    for (size_t i = 0; i < page->n_families; i++)
        if (strcmp(page->families[i].name, name) == 0)
            return &page->families[i];
    return NULL;
}
