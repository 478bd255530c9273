/* fail_inject.h — the torture run's failure injection: linked with
 * -Wl,--wrap=<call> for every allocation and I/O call the core makes (see
 * the Makefile's torture section), each wrapper counts its calls while
 * armed and fails the one numbered fail_at. */
#ifndef MM_FAIL_INJECT_H
#define MM_FAIL_INJECT_H

enum fi_kind { FI_ALLOC, FI_IO };

struct fi_state {
    int armed;            /* count (and fail) only inside a scenario */
    enum fi_kind kind;    /* which calls are counted */
    unsigned long fail_at; /* 0: none fails */
    unsigned long calls;  /* counted so far */
    const char *failed;   /* the call that was failed, NULL when none */
};

extern struct fi_state fi;

#endif
