/* check.h — the unit tests' tiny TAP harness.
 *
 * Each tests/unit/test_*.c is its own program: CHECK() records one assertion
 * inside a TEST, every TEST prints "ok N - name" or "not ok N - name", and
 * main() returns check_done(), non-zero when any test failed. tests/run_tests.py
 * counts these lines into the suite's "N passed, N failed". */
#ifndef MM_CHECK_H
#define MM_CHECK_H

#include <stdio.h>

static int check_test_no;
static int check_failed_tests;
static int check_current_failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            check_current_failed = 1;                                               \
        }                                                                           \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                          \
    do {                                                                            \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);             \
        if (check_a_ != check_b_) {                                                 \
            printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a,  \
                   check_a_, check_b_);                                             \
            check_current_failed = 1;                                               \
        }                                                                           \
    } while (0)

#define TEST(fn)                                                                    \
    do {                                                                            \
        check_current_failed = 0;                                                   \
        fn();                                                                       \
        check_test_no++;                                                            \
        if (check_current_failed)                                                   \
            check_failed_tests++;                                                   \
        printf("%sok %d - %s\n", check_current_failed ? "not " : "", check_test_no, #fn); \
        fflush(stdout);                                                             \
    } while (0)

static inline int check_done(void)
{
    printf("1..%d\n", check_test_no);
    return check_failed_tests ? 1 : 0;
}

#endif
