/* test_redact.c — credentials kept out of messages (core/redact.c), password
 * files (core/secret_file.c), one password source (mm_config_set_password). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "gather/config_options.h"
#include "gather/instance.h"
#include "core/redact.h"
#include "core/secret_file.h"

static void redacts_configured_values_whatever_they_hold(void)
{
    static const char *const passwords[] = { "se/cret", "p#ss?w", "a@b:c%d", "%41%42x", "with space", "/#?@:%" };
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        const char *pw = passwords[i];
        char url[256], msg[512];
        snprintf(url, sizeof(url), "http://admin:%s@127.0.0.1:1/stats", pw);
        struct mm_redactor r;
        mm_redactor_init(&r);
        CHECK(mm_redactor_add_credentials(&r, url, "bob", pw) == 0);
        snprintf(msg, sizeof(msg), "cannot read stats: %s: URL using bad/illegal format; user bob pw %s", url, pw);
        mm_redact(&r, msg, sizeof(msg));
        CHECK(strstr(msg, pw) == NULL);
        CHECK(strstr(msg, "bob") == NULL);
        CHECK(strstr(msg, "admin") == NULL);
        CHECK(strstr(msg, "cannot read stats: http://***@127.0.0.1:1/stats") != NULL);
        mm_redactor_free(&r);
    }
}

static void decoded_forms_and_short_secrets(void)
{
    struct mm_redactor r;
    mm_redactor_init(&r);
    CHECK(mm_redactor_add_credentials(&r, "http://u:p%40ss@h/", NULL, NULL) == 0);
    char msg[64] = "sent p@ss and p%40ss";
    mm_redact(&r, msg, sizeof(msg));
    CHECK(strcmp(msg, "sent *** and ***") == 0);
    mm_redactor_free(&r);

    /* a secret shorter than the mark makes the text longer: truncated, never overflowed */
    mm_redactor_init(&r);
    CHECK(mm_redactor_add_credentials(&r, NULL, NULL, "x") == 0);
    char small[8] = "xxxxxxx";
    mm_redact(&r, small, sizeof(small));
    CHECK(strcmp(small, "*******") == 0);
    mm_redactor_free(&r);

    mm_redact(NULL, small, sizeof(small)); /* no redactor: untouched */
    CHECK(strcmp(small, "*******") == 0);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
    }
}

static void password_files(void)
{
    char dir[] = "/tmp/mtpm-secret-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], err[256];
    char *out = NULL;
    snprintf(path, sizeof(path), "%s/pw", dir);

    write_file(path, "se/cret#?@:%\n");
    CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == 0 && strcmp(out, "se/cret#?@:%") == 0);
    free(out);
    write_file(path, "crlf\r\n");
    CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == 0 && strcmp(out, "crlf") == 0);
    free(out);
    write_file(path, "\n");
    CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == -1 && strstr(err, "empty") && !out);
    write_file(path, "two\nlines\n");
    CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == -1 && strstr(err, "line") && !strstr(err, "two"));
    char *big = malloc(MM_SECRET_FILE_MAX + 10);
    CHECK(big != NULL);
    if (big) {
        memset(big, 'a', MM_SECRET_FILE_MAX + 9);
        big[MM_SECRET_FILE_MAX + 9] = '\0';
        write_file(path, big);
        CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == -1 && strstr(err, "larger"));
        free(big);
    }
    CHECK(mm_read_secret_file(dir, &out, err, sizeof(err)) == -1 && strstr(err, "not a regular file"));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK(mm_read_secret_file(path, &out, err, sizeof(err)) == -1 && strstr(err, "not a regular file"));
    CHECK(mm_read_secret_file("/dev/zero", &out, err, sizeof(err)) == -1);
    CHECK(mm_read_secret_file("/nonexistent/pw", &out, err, sizeof(err)) == -1 && strstr(err, "/nonexistent/pw"));
    unlink(path);
    snprintf(path, sizeof(path), "%s/pw", dir);
    unlink(path);
    rmdir(dir);
}

static void one_password_source(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    char err[256];
    CHECK(mm_config_set_password(&cfg, "one", MM_PASSWORD_INLINE, err, sizeof(err)) == 0);
    CHECK(mm_config_set_password(&cfg, "two", MM_PASSWORD_INLINE, err, sizeof(err)) == 0); /* last flag wins */
    CHECK(mm_config_set_password(&cfg, "three", MM_PASSWORD_FILE, err, sizeof(err)) == -1 && strstr(err, "twice") &&
          !strstr(err, "three") && !strstr(err, "two"));
    CHECK(strcmp(cfg.password, "two") == 0);
    const struct mm_option *pw = mm_option_by_collectd_name("Password");
    const struct mm_option *pf = mm_option_by_collectd_name("PasswordFile");
    CHECK(pw && pf && mm_option_is_secret(pw) && mm_option_is_secret(mm_option_by_flag("url")) &&
          !mm_option_is_secret(pf) && !mm_option_is_secret(mm_option_by_flag("timeout")));
    mm_instance_config_free(&cfg);
}

/* Issue 25: libcurl cuts its error text at CURL_ERROR_SIZE; a long user name cut there is only a
 * prefix of the secret, at the end of the message. */
static void a_cut_secret_at_the_end(void)
{
    struct mm_redactor r;
    mm_redactor_init(&r);
    char user[301];
    for (int i = 0; i < 300; i++)
        user[i] = i % 2 ? 'a' : 'Q';
    user[300] = '\0';
    char url[400];
    snprintf(url, sizeof(url), "http://%s/x:pw@127.0.0.1:1/stats", user);
    CHECK(mm_redactor_add_credentials(&r, url, NULL, NULL) == 0);
    char curl_err[256]; /* CURL_ERROR_SIZE */
    snprintf(curl_err, sizeof(curl_err), "Could not resolve host: %.*s", (int)(sizeof(curl_err) - 25), user);
    char msg[512];
    snprintf(msg, sizeof(msg), "cannot read stats: %s", curl_err);
    mm_redact(&r, msg, sizeof(msg));
    CHECK(strcmp(msg, "cannot read stats: Could not resolve host: ***") == 0);
    CHECK(strstr(msg, "QaQa") == NULL);
    /* a short cut (MM_REDACT_CUT_MIN bytes) too; fewer, and a text that merely ends like one, stay */
    char four[32] = "host: QaQa";
    mm_redact(&r, four, sizeof(four));
    CHECK(strcmp(four, "host: ***") == 0);
    char three[32] = "host: Qaz Qa";
    mm_redact(&r, three, sizeof(three));
    CHECK(strcmp(three, "host: Qaz Qa") == 0);
    /* the whole secret, then a cut one: both */
    char both[900];
    snprintf(both, sizeof(both), "%s/x and %.*s", user, 100, user);
    mm_redact(&r, both, sizeof(both));
    CHECK(strcmp(both, "*** and ***") == 0);
    mm_redactor_free(&r);
}

int main(void)
{
    TEST(redacts_configured_values_whatever_they_hold);
    TEST(decoded_forms_and_short_secrets);
    TEST(password_files);
    TEST(one_password_source);
    TEST(a_cut_secret_at_the_end);
    return check_done();
}
