/*
 * The kernel floor for the hit benchmarks: a single-threaded UDP responder that sends every
 * datagram back to its sender with the QR bit set, doing nothing else (no parsing, no
 * lookup). What it costs per query is the kernel's UDP receive + send path plus two system
 * calls; every microsecond a DNS server spends above it is the server's own work.
 *
 *   cc -O2 -o udp_echo tests/bench/udp_echo.c
 *   udp_echo ADDR [PORT]          (PORT defaults to 53; runs until killed)
 *
 * Used by hits.sh and saturation.sh, which build it into their state folder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s ADDR [PORT]\n", argv[0]);
        return 2;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(argc == 3 ? (unsigned short)atoi(argv[2]) : 53);
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "bad IPv4 address %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("socket/bind");
        return 1;
    }
    unsigned char buf[65536];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("recvfrom");
            return 1;
        }
        if (n < 12)
            continue; /* not even a DNS header */
        buf[2] |= 0x80; /* QR: a response */
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peer_len) < 0 && errno != EINTR &&
            errno != EAGAIN && errno != ENOBUFS)
            perror("sendto");
    }
}
