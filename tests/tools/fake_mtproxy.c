/* fake_mtproxy.c — a stand-in for MTProxy's process tree, for tests.
 *
 * Like `mtproto-proxy -M N`, it forks a master and N workers (fork without
 * exec, so every process has the same command line), all named
 * mtproto-proxy (comm and argv[0]), each holding known numbers of threads,
 * open files and listening sockets so a test can check what /proc says.
 *
 *   fake_mtproxy [-w WORKERS] [-t THREADS] [-f FILES] [-p PORT] [-H PORT]
 *                [-a ADDR] [-N NOFILE] [-P PIDFILE] [-n NAME] [-u USER]
 *                [-O SECONDS] [-K] [-b MS]
 *     -w N     workers (default 0: one process, like -M 0)
 *     -t T     extra threads per process (each process has 1 + T)
 *     -f F     extra open files (/dev/null) per process
 *     -p PORT  a listener on 127.0.0.1:PORT in the master only, like
 *              MTProxy's stats port -p (0: any free port; -l is the same);
 *              if a test's stats server holds PORT, only named (no listener)
 *     -H PORT  a listener on ADDR:PORT opened before forking and shared by
 *              the master and every worker, like MTProxy's client port -H
 *              (0: any free port; -s is the same)
 *     -a ADDR  the IPv4 address of the -H listener (default 127.0.0.1)
 *     -N SOFT  set the soft open-files limit (all processes), as MTProxy
 *              raises it for -c
 *     -P FILE  write the master's pid there once ready (removed on exit)
 *     -n NAME  process name instead of mtproto-proxy (at most 15 chars), so
 *              concurrent tests do not see each other's fakes
 *     -u USER  after opening the listeners, switch to USER (a name or a
 *              numeric uid) with setgid/setuid and no exec, as MTProxy's -u
 *              does: the processes become non-dumpable, /proc/PID/fd root's
 *     -O SECS  workers outlive a master killed hard for SECS seconds (as
 *              MTProxy's notice "Parent is changed to 1" 1-3 s late)
 *     -K       the master keeps running when a worker exits (MTProxy
 *              aborts; other implementations respawn)
 *     -b MS    every process burns MS ms of CPU and writes 1 MiB to
 *              /dev/null once ready, so its counters are not zero
 *
 * Once every process is ready it prints one line to stdout:
 *   {"master":M,"workers":[W1,...],"threads":1+T,"fds_master":X,
 *    "fds_worker":Y,"listen_port":P,"shared_port":S,"name":"..."}
 * SIGTERM or SIGINT stops master and workers cleanly (exit 0); workers die
 * with the master (PR_SET_PDEATHSIG); like MTProxy, the master exits when a
 * worker dies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define MAX_THREADS 256
#define MAX_FILES 10000

struct opts {
    int workers, threads, files;
    int listen_port, shared_port; /* -1: none */
    long nofile;                  /* -1: unchanged */
    const char *pidfile;
    const char *name;
    const char *user;             /* NULL: stay */
    const char *addr;             /* the shared listener's address */
    int orphan_secs;              /* -1: workers die with the master */
    int keep;                     /* master survives a worker's exit */
    int burn_ms;
};

static void die(const char *what)
{
    fprintf(stderr, "fake_mtproxy: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int parse_int(const char *s, int lo, int hi, const char *opt)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "fake_mtproxy: %s wants a number in %d..%d, not '%s'\n", opt, lo, hi, s);
        exit(2);
    }
    return (int)v;
}

/* Re-executes with argv[0] = name so /proc/PID/cmdline starts with it, as
 * overwriting argv in place cannot make the area longer. */
static void become_named(int argc, char **argv, const char *name)
{
    if (strcmp(argv[0], name) == 0)
        return;
    char **nargv = calloc((size_t)argc + 1, sizeof(*nargv));
    if (!nargv)
        die("calloc");
    nargv[0] = (char *)name;
    for (int i = 1; i < argc; i++)
        nargv[i] = argv[i];
    execv("/proc/self/exe", nargv);
    die("re-exec");
}

/* A listener on addr:port; -1 when the port is taken and taken_ok (the
 * stats port a test's stats server holds: the fake then only names it). */
static int tcp_listener(const char *addr, int port, int taken_ok)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* A test may hold the client port bound (not listening) with SO_REUSEPORT
     * until the fake listens on it, so the command line can name the real
     * port. Never the stats port: the test's stats server listens there with
     * SO_REUSEPORT, and joining it would take half of its connections. */
    if (!taken_ok)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "fake_mtproxy: -a wants an IPv4 address, not '%s'\n", addr);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (errno == EADDRINUSE && taken_ok && port > 0) {
            close(fd);
            return -1;
        }
        die("bind");
    }
    if (listen(fd, 128) != 0)
        die("listen");
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        die("getsockname");
    return ntohs(sa.sin_port);
}

static void *idle_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause(); /* every signal is blocked: sleeps until the process ends */
    return NULL;
}

/* What every process holds: F open files and T idle threads. */
static void hold_resources(const struct opts *o)
{
    for (int i = 0; i < o->files; i++)
        if (open("/dev/null", O_RDONLY) < 0)
            die("open /dev/null");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < o->threads; i++) {
        pthread_t t;
        int rc = pthread_create(&t, &attr, idle_thread, NULL);
        if (rc != 0) {
            errno = rc;
            die("pthread_create");
        }
    }
    pthread_attr_destroy(&attr);
}

/* CPU time and write bytes, so the counters of every process move. */
static void burn(int ms)
{
    if (ms <= 0)
        return;
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    (void)x; /* only there to keep the loop from being optimised away */
    int fd = open("/dev/null", O_WRONLY);
    static char block[65536];
    for (int i = 0; fd >= 0 && i < 16; i++)
        if (write(fd, block, sizeof(block)) < 0)
            break;
    if (fd >= 0)
        close(fd);
}

/* MTProxy's change_user_group(): setgroups, setgid, setuid, no exec. */
static void drop_privileges(const char *user)
{
    uid_t uid;
    gid_t gid;
    struct passwd *pw = getpwnam(user);
    if (pw) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    } else {
        uid = gid = (uid_t)parse_int(user, 1, 0x7fffffff, "-u");
    }
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        die("switching user");
}

static void stop_workers(const pid_t *workers, int n)
{
    for (int i = 0; i < n; i++)
        if (workers[i] > 0)
            kill(workers[i], SIGTERM);
    for (int i = 0; i < n; i++)
        if (workers[i] > 0)
            waitpid(workers[i], NULL, 0);
}

int main(int argc, char **argv)
{
    struct opts o = {0, 0, 0, -1, -1, -1, NULL, "mtproto-proxy", NULL, "127.0.0.1", -1, 0, 0};
    int c;
    while ((c = getopt(argc, argv, "w:t:f:l:p:s:H:a:N:P:n:u:O:Kb:")) != -1) {
        switch (c) {
        case 'w': o.workers = parse_int(optarg, 0, MAX_WORKERS, "-w"); break;
        case 't': o.threads = parse_int(optarg, 0, MAX_THREADS, "-t"); break;
        case 'f': o.files = parse_int(optarg, 0, MAX_FILES, "-f"); break;
        case 'l': case 'p': o.listen_port = parse_int(optarg, 0, 65535, "-p"); break;
        case 's': case 'H': o.shared_port = parse_int(optarg, 0, 65535, "-H"); break;
        case 'a': o.addr = optarg; break;
        case 'N': o.nofile = parse_int(optarg, 16, 1 << 20, "-N"); break;
        case 'P': o.pidfile = optarg; break;
        case 'n': o.name = optarg; break;
        case 'u': o.user = optarg; break;
        case 'O': o.orphan_secs = parse_int(optarg, 0, 3600, "-O"); break;
        case 'K': o.keep = 1; break;
        case 'b': o.burn_ms = parse_int(optarg, 0, 10000, "-b"); break;
        default:
            fprintf(stderr, "usage: fake_mtproxy [-w N] [-t T] [-f F] [-p PORT] [-H PORT] [-a ADDR] "
                            "[-N NOFILE] [-P PIDFILE] [-n NAME] [-u USER] [-O SECS] [-K] [-b MS]\n");
            return 2;
        }
    }
    if (strlen(o.name) == 0 || strlen(o.name) > 15) {
        fprintf(stderr, "fake_mtproxy: -n wants 1..15 characters\n");
        return 2;
    }
    become_named(argc, argv, o.name);
    if (prctl(PR_SET_NAME, o.name, 0, 0, 0) != 0)
        die("PR_SET_NAME");

    /* Known descriptors: 0-2 open, nothing else inherited from the caller. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            die("reopen stdio");
    close_range(3, ~0u, 0);

    /* Signals are taken with sigwait by the main thread only; threads and
     * workers inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    if (o.nofile > 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
            die("getrlimit");
        rl.rlim_cur = (rlim_t)o.nofile;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            die("setrlimit");
    }

    int shared_fd = o.shared_port >= 0 ? tcp_listener(o.addr, o.shared_port, 0) : -1;
    int shared_port = shared_fd >= 0 ? port_of(shared_fd) : -1;
    int listen_fd = o.listen_port >= 0 ? tcp_listener("127.0.0.1", o.listen_port, 1) : -1;
    int listen_port = listen_fd >= 0 ? port_of(listen_fd) : -1;
    /* Opened before the switch, like a pidfile the service manager reads. */
    int pid_fd = -1;
    if (o.pidfile && (pid_fd = open(o.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        die("pidfile");
    if (o.user)
        drop_privileges(o.user);

    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
        die("pipe");
    pid_t master = getpid();
    pid_t workers[MAX_WORKERS] = {0};
    for (int i = 0; i < o.workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            stop_workers(workers, i);
            die("fork");
        }
        if (pid == 0) {
            if (o.orphan_secs < 0)
                prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
            if (getppid() != master) /* the master died before PDEATHSIG was set */
                _exit(0);
            close(ready[0]);
            if (listen_fd >= 0)
                close(listen_fd); /* the stats listener is the master's */
            if (pid_fd >= 0)
                close(pid_fd);
            hold_resources(&o);
            burn(o.burn_ms);
            char b = 'r';
            if (write(ready[1], &b, 1) != 1)
                _exit(1);
            close(ready[1]);
            if (o.orphan_secs >= 0) {
                /* Outlive the master: notice it is gone, linger, exit. */
                struct timespec tick = {0, 50 * 1000 * 1000};
                siginfo_t si;
                while (getppid() == master)
                    if (sigtimedwait(&set, &si, &tick) > 0 && si.si_signo != SIGCHLD)
                        _exit(0);
                struct timespec linger = {o.orphan_secs, 0};
                while (sigtimedwait(&set, &si, &linger) > 0 && si.si_signo == SIGCHLD)
                    ;
                _exit(0);
            }
            int sig;
            do {
                sigwait(&set, &sig);
            } while (sig == SIGCHLD);
            _exit(0);
        }
        workers[i] = pid;
    }
    close(ready[1]);
    hold_resources(&o);
    burn(o.burn_ms);
    for (int got = 0; got < o.workers;) {
        char b;
        ssize_t n = read(ready[0], &b, 1);
        if (n == 1) {
            got++;
        } else if (n == 0 || errno != EINTR) {
            fprintf(stderr, "fake_mtproxy: a worker died before it was ready\n");
            stop_workers(workers, o.workers);
            return 1;
        }
    }
    /* Then EOF: every worker has closed its end of the pipe, so the fd
     * counts printed below are what /proc shows from now on. */
    for (;;) {
        char b;
        ssize_t n = read(ready[0], &b, 1);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    close(ready[0]);
    if (pid_fd >= 0) {
        char line[32];
        int len = snprintf(line, sizeof(line), "%d\n", (int)master);
        if (write(pid_fd, line, (size_t)len) != len || close(pid_fd) != 0)
            die("pidfile");
    }

    int fds_worker = 3 + o.files + (shared_fd >= 0);
    int fds_master = fds_worker + (listen_fd >= 0);
    printf("{\"master\":%d,\"workers\":[", (int)master);
    for (int i = 0; i < o.workers; i++)
        printf("%s%d", i ? "," : "", (int)workers[i]);
    printf("],\"threads\":%d,\"fds_master\":%d,\"fds_worker\":%d,\"listen_port\":%d,"
           "\"shared_port\":%d,\"name\":\"%s\"}\n",
           1 + o.threads, fds_master, fds_worker, listen_port, shared_port, o.name);
    fflush(stdout);

    int status = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGCHLD)
            break;
        pid_t dead = waitpid(-1, NULL, WNOHANG);
        if (dead <= 0)
            continue;
        /* As MTProxy: "Child terminated, aborting". */
        for (int i = 0; i < o.workers; i++)
            if (workers[i] == dead)
                workers[i] = 0;
        if (o.keep) {
            fprintf(stderr, "fake_mtproxy: worker %d terminated, going on\n", (int)dead);
            continue;
        }
        fprintf(stderr, "fake_mtproxy: worker %d terminated, aborting\n", (int)dead);
        status = 1;
        break;
    }
    stop_workers(workers, o.workers);
    if (o.pidfile)
        unlink(o.pidfile);
    return status;
}
