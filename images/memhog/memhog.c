/*
 * memhog: hold a chosen amount of resident memory, for dockermem test containers.
 *
 *   memhog MIB [GROW_MIB_PER_SEC [MAX_MIB]]
 *
 * Allocates MIB mebibytes and writes a non-zero byte to every page so the memory is
 * really resident. Writes /tmp/ready (content: the MiB held) when the initial allocation
 * is done. If GROW_MIB_PER_SEC > 0 it then grows every 100 ms by a tenth of the rate
 * (the rate may be fractional), up to MAX_MIB (unbounded when absent), touching each new
 * chunk. Then it waits forever. SIGTERM and SIGINT exit(0) at once: it often runs as
 * PID 1 in a container, where default signal actions do not apply.
 *
 * Build: gcc -O2 -static -o memhog memhog.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)
#define STEP_NS 100000000L /* 100 ms */

static void on_signal(int sig) { (void)sig; _exit(0); }

static void usage(const char *msg, const char *arg) {
    if (msg) fprintf(stderr, "memhog: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: memhog MIB [GROW_MIB_PER_SEC [MAX_MIB]]\n");
    exit(2);
}

/* Strict non-negative finite number: the whole string must parse. */
static double parse_num(const char *s, const char *what) {
    char *end, msg[64];
    double v;
    snprintf(msg, sizeof msg, "%s must be a non-negative number", what);
    if (*s == '\0') usage(msg, "''");
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !isfinite(v) || v < 0)
        usage(msg, s);
    if (strchr(s, 'x') || strchr(s, 'X') || strchr(s, 'n') || strchr(s, 'N'))
        usage(msg, s);  /* no hex, inf, nan */
    return v;
}

/* Allocate n bytes with mmap and touch every page with a non-zero byte. */
static int hold(size_t n) {
    void *p;
    if (n == 0) return 0;
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    memset(p, 0x5a, n);
    return 0;
}

static void write_ready(double mib) {
    FILE *f = fopen("/tmp/ready.tmp", "w");
    if (!f) { perror("memhog: /tmp/ready"); return; }
    fprintf(f, "%g\n", mib);
    if (fclose(f) != 0 || rename("/tmp/ready.tmp", "/tmp/ready") != 0)
        perror("memhog: /tmp/ready");
}

int main(int argc, char **argv) {
    double mib, rate = 0, max = -1, held_bytes, target;
    struct sigaction sa;
    struct timespec step = {0, STEP_NS};
    size_t n;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (argc < 2 || argc > 4) usage("wrong number of arguments", NULL);
    mib = parse_num(argv[1], "MIB");
    if (argc >= 3) rate = parse_num(argv[2], "GROW_MIB_PER_SEC");
    if (argc >= 4) {
        max = parse_num(argv[3], "MAX_MIB");
        if (max < mib) usage("MAX_MIB is below MIB", argv[3]);
    }

    n = (size_t)(mib * MIB);
    if (hold(n) != 0) { perror("memhog: mmap"); return 1; }
    held_bytes = (double)n;
    write_ready(mib);
    fprintf(stderr, "memhog: holding %g MiB\n", mib);

    if (rate > 0) {
        /* Track the target as a float so fractional rates add up exactly over time. */
        target = held_bytes;
        for (;;) {
            double cap = max >= 0 ? max * MIB : INFINITY;
            if (held_bytes >= cap) break;
            nanosleep(&step, NULL);
            target += rate * MIB / 10.0;
            if (target > cap) target = cap;
            /* grow in whole pages */
            n = (size_t)((target - held_bytes) / 4096.0) * 4096;
            if (n > 0) {
                if (hold(n) != 0) { perror("memhog: mmap"); return 1; }
                held_bytes += (double)n;
            }
        }
        fprintf(stderr, "memhog: reached %g MiB\n", held_bytes / MIB);
    }
    for (;;) pause();
}
