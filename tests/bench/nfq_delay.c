/*
 * nfq_delay: delay and drop packets handed to an NFQUEUE (a netem stand-in for kernels without
 * the netem qdisc). Used by loss.sh inside its network namespace.
 *
 *   nfq_delay QUEUE MEAN_MS JITTER_MS LOSS MAX_SECS [SEED]
 *
 * Every packet received on queue QUEUE is dropped (NF_DROP) with probability LOSS (0..1);
 * otherwise it is accepted (NF_ACCEPT) after a delay drawn uniformly from
 * [MEAN_MS - JITTER_MS, MEAN_MS + JITTER_MS] (clamped at 0). Verdicts are given by packet id, so
 * they go out in due-time order, not arrival order: packets may be reordered, as on a real path
 * with jitter. At most PENDING_MAX packets wait at once (a binary min-heap on due time); past
 * that a packet is accepted at once and counted as "overflow". The program exits after MAX_SECS
 * seconds, or on SIGTERM/SIGINT, accepting whatever is still pending, and prints its counts
 * (received, dropped, accepted, overflow, mean and max delay applied) on stderr.
 *
 * Build: gcc -O2 -Wall -o nfq_delay nfq_delay.c -lnetfilter_queue   (libnetfilter-queue-dev)
 * Route packets to it with e.g. `iptables -A OUTPUT ... -j NFQUEUE --queue-num QUEUE`. Without
 * --queue-bypass, packets queued while nothing listens are dropped, so a dead nfq_delay shows up
 * as total loss rather than as an unimpaired run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PENDING_MAX 65536

struct pending {
    uint64_t due_ns;
    uint32_t id;
};

static struct pending heap[PENDING_MAX];
static size_t heap_len;

static double mean_ms, jitter_ms, loss;
static uint64_t rng_state;
static volatile sig_atomic_t stop;

static unsigned long long n_received, n_dropped, n_accepted, n_overflow, n_verdict_errors,
    n_recv_errors;
static double delay_sum_ms, delay_max_ms;
static size_t pending_peak;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: uniform double in [0, 1). */
static double rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void heap_push(struct pending p)
{
    size_t i = heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap[parent].due_ns <= p.due_ns)
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = p;
}

static struct pending heap_pop(void)
{
    struct pending top = heap[0], last = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_len)
            break;
        if (c + 1 < heap_len && heap[c + 1].due_ns < heap[c].due_ns)
            c++;
        if (last.due_ns <= heap[c].due_ns)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (heap_len > 0)
        heap[i] = last;
    return top;
}

static void verdict(struct nfq_q_handle *qh, uint32_t id, uint32_t v)
{
    if (nfq_set_verdict(qh, id, v, 0, NULL) < 0)
        n_verdict_errors++;
    else if (v == NF_ACCEPT)
        n_accepted++;
    else
        n_dropped++;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    (void)msg;
    (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (ph == NULL)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    n_received++;
    if (rnd() < loss) {
        verdict(qh, id, NF_DROP);
        return 0;
    }
    double d = mean_ms + (2.0 * rnd() - 1.0) * jitter_ms;
    if (d < 0)
        d = 0;
    if (heap_len >= PENDING_MAX) {
        n_overflow++;
        verdict(qh, id, NF_ACCEPT);
        return 0;
    }
    delay_sum_ms += d;
    if (d > delay_max_ms)
        delay_max_ms = d;
    heap_push((struct pending){now_ns() + (uint64_t)(d * 1e6), id});
    if (heap_len > pending_peak)
        pending_peak = heap_len;
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: nfq_delay QUEUE MEAN_MS JITTER_MS LOSS MAX_SECS [SEED]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7)
        usage();
    char *end;
    long queue = strtol(argv[1], &end, 10);
    if (*end || queue < 0 || queue > 65535)
        usage();
    mean_ms = strtod(argv[2], &end);
    if (*end || mean_ms < 0 || mean_ms > 10000)
        usage();
    jitter_ms = strtod(argv[3], &end);
    if (*end || jitter_ms < 0 || jitter_ms > 10000)
        usage();
    loss = strtod(argv[4], &end);
    if (*end || loss < 0 || loss > 1)
        usage();
    double max_secs = strtod(argv[5], &end);
    if (*end || max_secs <= 0 || max_secs > 86400)
        usage();
    rng_state = argc == 7 ? strtoull(argv[6], NULL, 10) : (uint64_t)now_ns() ^ (uint64_t)getpid();
    if (rng_state == 0)
        rng_state = 88172645463325252ull;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *h = nfq_open();
    if (h == NULL) {
        perror("nfq_open");
        return 1;
    }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
    if (qh == NULL) {
        perror("nfq_create_queue (is another program bound to this queue?)");
        nfq_close(h);
        return 1;
    }
    /* Metadata only: the verdict does not need the payload. */
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
        perror("nfq_set_mode");
        return 1;
    }
    nfq_set_queue_maxlen(qh, PENDING_MAX);
    int fd = nfq_fd(h);
    int rcvbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

    fprintf(stderr, "nfq_delay: queue %ld, delay %.1f +- %.1f ms (uniform), loss %.3f, for %.0f s\n",
            queue, mean_ms, jitter_ms, loss, max_secs);

    uint64_t deadline = now_ns() + (uint64_t)(max_secs * 1e9);
    static char buf[65536];
    while (!stop) {
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        while (heap_len > 0 && heap[0].due_ns <= now)
            verdict(qh, heap_pop().id, NF_ACCEPT);
        /* Sleep until the next verdict is due (rounded up to 1 ms), the deadline, or a packet. */
        uint64_t wake = deadline;
        if (heap_len > 0 && heap[0].due_ns < wake)
            wake = heap[0].due_ns;
        int timeout_ms = (int)((wake - now + 999999) / 1000000);
        if (timeout_ms > 1000)
            timeout_ms = 1000;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }
        if (r == 0)
            continue;
        /* Drain what is ready without blocking. */
        for (int i = 0; i < 256; i++) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                n_recv_errors++; /* ENOBUFS: the kernel dropped queue messages */
                break;
            }
            nfq_handle_packet(h, buf, (int)n);
        }
    }
    while (heap_len > 0)
        verdict(qh, heap_pop().id, NF_ACCEPT);

    unsigned long long delayed = n_received - n_dropped - n_overflow;
    fprintf(stderr,
            "nfq_delay: received %llu, dropped %llu (%.1f %%), accepted %llu, overflow %llu, "
            "recv errors %llu, verdict errors %llu, delay mean %.1f ms max %.1f ms, peak pending %zu\n",
            n_received, n_dropped, n_received ? 100.0 * (double)n_dropped / (double)n_received : 0.0,
            n_accepted, n_overflow, n_recv_errors, n_verdict_errors,
            delayed ? delay_sum_ms / (double)delayed : 0.0, delay_max_ms, pending_peak);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
