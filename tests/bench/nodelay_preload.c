/*
 * LD_PRELOAD shim for dot.sh: TCP_NODELAY on every connection accepted on port 853.
 *
 * Unbound sets TCP_NODELAY on its TLS sockets since 1.22.0 (commit 7559d26c9, "Use TCP_NODELAY
 * on TLS sockets"); the Debian Unbound this project benchmarks against (1.17) does not. Without
 * it an answer written while the previous one is unacknowledged waits (Nagle's algorithm) for
 * the client's next query to bring the ACK, and is then sent inside the client's own system
 * call, on the client's CPU. dot.sh runs that Unbound twice, as packaged and with this shim, so
 * both its figures are on record.
 *
 *   cc -shared -fPIC -O2 -o nodelay_preload.so nodelay_preload.c -ldl
 *   LD_PRELOAD=./nodelay_preload.so unbound -d -c unbound.conf
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define DOT_PORT 853

static void nodelay_if_dot(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    unsigned short port = 0;
    int on = 1;

    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (port == DOT_PORT)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

int accept(int s, struct sockaddr *addr, socklen_t *len)
{
    static int (*real)(int, struct sockaddr *, socklen_t *);
    int fd;

    if (!real)
        real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    if (!real)
        return -1;
    fd = real(s, addr, len);
    nodelay_if_dot(fd);
    return fd;
}

int accept4(int s, struct sockaddr *addr, socklen_t *len, int flags)
{
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    int fd;

    if (!real)
        real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    if (!real)
        return -1;
    fd = real(s, addr, len, flags);
    nodelay_if_dot(fd);
    return fd;
}
