/* fuzz_state_file.c — libFuzzer target for the state-file reader: the file
 * image parser (common/core/state_file.h mm_state_parse) and the clients
 * payload behind it (clients.h mm_clients_load_payload: counters, the
 * sketch's registers and the sample). The first byte picks the entry: even,
 * a whole file (checksum and all); odd, the payload alone, so the fuzzer
 * reaches the sketch without forging checksums. A payload that loads must
 * answer every window and save to a form that loads again. */
/* fuzz-weight: 4 (a new parser: four times the time in `make fuzz`, see run_fuzz.py) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/state_file.h"
#include "host/sockets/clients.h"

static void no_country(void *ctx, uint32_t cc, uint64_t n)
{
    (void)ctx, (void)cc, (void)n;
}

static void payload(const uint8_t *p, size_t len)
{
    struct mm_clients c, again;
    char err[256];
    if (mm_clients_init(&c) < 0)
        return;
    if (mm_clients_load_payload(&c, p, len, err, sizeof(err)) == 0) {
        uint32_t now = mm_dw_now(&c.dw, c.dw.last_minute);
        (void)mm_dw_count(&c.dw, now, MM_DW_HOUR);
        (void)mm_dw_count(&c.dw, now, MM_DW_WEEK);
        mm_dw_countries(&c.dw, now, MM_DW_DAY, no_country, NULL);
        mm_dw_add(&c.dw, 12345, now, 1);
        unsigned char *buf = malloc(MM_CLIENTS_PAYLOAD_MAX);
        if (buf && mm_clients_init(&again) == 0) {
            size_t n = mm_clients_save_payload(&c, buf);
            if (n > MM_CLIENTS_PAYLOAD_MAX ||
                mm_clients_load_payload(&again, buf, n, err, sizeof(err)) != 0)
                abort();
            mm_clients_free(&again);
        }
        free(buf);
    }
    mm_clients_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int whole = !(data[0] & 1);
    data++;
    size--;
    /* an exact-size heap copy: reads past the end are caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (whole) {
        size_t off, len;
        char err[256];
        if (mm_state_parse(copy, size, "main", &off, &len, err, sizeof(err)) == 0) {
            if (off + len != size)
                abort();
            payload(copy + off, len);
        }
    } else {
        payload(copy, size);
    }
    free(copy);
    return 0;
}
