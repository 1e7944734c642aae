/* Test helper: binds a unix datagram socket (a path, or "@name" for the abstract
 * namespace) as systemd's NOTIFY_SOCKET would be, prints "ready" once bound, then
 * every datagram received on a line of its own, until killed. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t n = strlen(argv[1]);
    socklen_t length;
    if (argv[1][0] == '@') {
        memcpy(address.sun_path + 1, argv[1] + 1, n - 1);
        length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        memcpy(address.sun_path, argv[1], n);
        length = (socklen_t)sizeof address;
    }
    if (bind(fd, (struct sockaddr *)&address, length) != 0) { perror("bind"); return 1; }
    printf("ready\n");
    fflush(stdout);
    char buffer[4096];
    for (;;) {
        ssize_t got = recv(fd, buffer, sizeof buffer - 1, 0);
        if (got < 0) return 1;
        buffer[got] = 0;
        for (ssize_t i = 0; i < got; i++) if (buffer[i] == '\n') buffer[i] = '|';
        printf("%s\n", buffer);
        fflush(stdout);
    }
}
