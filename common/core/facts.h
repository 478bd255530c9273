/* facts.h — the few facts about a proxy that the gather needs from any
 * implementation's page: who answered, since when, with which configuration.
 * Sources fill them while they parse; events and process discovery read them. */
#ifndef MM_FACTS_H
#define MM_FACTS_H

#include <stdint.h>

#define MM_FACT_TEXT_MAX 160

/* What the core needs from any implementation; 0 / "" when unknown. */
struct mm_source_facts {
    int64_t pid;                           /* of the process that answered */
    int64_t start_time;                    /* unix seconds: a change is a restart */
    char config_id[MM_FACT_TEXT_MAX];      /* configuration identity: a change is a reload */
    char version[MM_FACT_TEXT_MAX];
    char implementation[32];               /* "mtproxy", "teleproxy", "mtg" ... */
};

#endif
