/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "parse-util.h"
#include "sandbox-identify.h"
#include "string-util.h"

#define IDENTIFY_CGROUP_DEPTH_MAX 8
#define PROC_STATUS_MAX (64U * 1024)
#define CGROUP_PROCS_MAX (4U * 1024 * 1024)

int identify_request_parse(const void *buf, size_t size, IdentifyRequest *ret) {
        static const char verb[] = "IDENTIFY ";
        char text[IDENTIFY_REQUEST_MAX + 1], *address, *port, *end;
        IdentifyRequest req = {};
        uint16_t p;

        if (size <= strlen(verb) || size > IDENTIFY_REQUEST_MAX || memchr(buf, 0, size))
                return -EBADMSG;
        memcpy(text, buf, size);
        text[size] = 0;
        if (!startswith(text, verb) || text[size - 1] != '\n')
                return -EBADMSG;
        text[size - 1] = 0;

        /* "<4|6> <address> <port>": exactly three fields separated by one space each. */
        address = text + strlen(verb);
        if ((address[0] != '4' && address[0] != '6') || address[1] != ' ')
                return -EBADMSG;
        req.family = address[0] == '4' ? AF_INET : AF_INET6;
        address += 2;
        port = strchr(address, ' ');
        if (!port || port == address)
                return -EBADMSG;
        *port++ = 0;
        end = address + strspn(address, "0123456789abcdefABCDEF:.");
        if (*end != 0 || strchr(port, ' '))
                return -EBADMSG;
        if (inet_pton(req.family, address, &req.address) != 1)
                return -EBADMSG;
        /* parse_port() takes "1".."65535" and nothing else (no sign, space, or leading zero but "0"). */
        if (port[0] == '0' || parse_port(port, &p) < 0)
                return -EBADMSG;
        req.port = p;
        *ret = req;
        return 0;
}

/* Hex digits of the kernel's tables: exactly n of them. */
static bool parse_hex_u32(const char *s, size_t n, uint32_t *ret) {
        uint32_t v = 0;

        for (size_t i = 0; i < n; i++) {
                int d;
                if (s[i] >= '0' && s[i] <= '9')
                        d = s[i] - '0';
                else if (s[i] >= 'A' && s[i] <= 'F')
                        d = s[i] - 'A' + 10;
                else if (s[i] >= 'a' && s[i] <= 'f')
                        d = s[i] - 'a' + 10;
                else
                        return false;
                v = v << 4 | (uint32_t) d;
        }
        *ret = v;
        return true;
}

/* "ADDR:PORT" as the kernel prints a socket's end: each 32-bit word of the address in the byte order
 * of this machine (so comparing the raw words needs no conversion), the port in host order. */
static bool parse_endpoint(const char *s, size_t words, uint32_t address[static 4], uint16_t *ret_port) {
        uint32_t port;

        for (size_t i = 0; i < words; i++)
                if (!parse_hex_u32(s + 8 * i, 8, &address[i]))
                        return false;
        if (s[8 * words] != ':' || !parse_hex_u32(s + 8 * words + 1, 4, &port))
                return false;
        *ret_port = (uint16_t) port;
        return true;
}

static bool request_matches(const IdentifyRequest *req, bool v6, const uint32_t local[static 4]) {
        uint32_t want[4];

        if (!v6) {
                if (req->family != AF_INET)
                        return false;
                memcpy(want, &req->address.in, 4);
                return local[0] == want[0];
        }
        if (req->family == AF_INET6) {
                memcpy(want, &req->address.in6, 16);
                return memcmp(local, want, 16) == 0;
        }
        /* An IPv4 client on a dual-stack socket: ::ffff:a.b.c.d. */
        {
                struct in6_addr mapped = { .s6_addr = { [10] = 0xff, [11] = 0xff } };
                memcpy(mapped.s6_addr + 12, &req->address.in, 4);
                memcpy(want, &mapped, 16);
                return memcmp(local, want, 16) == 0;
        }
}

int proc_net_tcp_find_inode(const char *text, bool v6, const IdentifyRequest *req, uint16_t remote_port,
                            uint64_t *ret_inode) {
        size_t words = v6 ? 4 : 1, endpoint_len = 8 * words + 5;
        const char *line = text, *nl;

        assert(text); /* read_full_fd() always returns a string on success */

        /* The header: "  sl  local_address rem_address   st ..." */
        nl = strchr(line, '\n');
        if (!nl || !strstr(line, "local_address") || (size_t) (nl - line) > 256)
                return -EBADMSG;

        for (line = nl + 1; *line; line = nl + 1) {
                uint32_t local[4] = {}, remote[4] = {}, state;
                uint16_t local_port, rport;
                const char *p = line;
                uint64_t inode;
                int field = 0;

                nl = strchr(line, '\n');
                if (!nl)
                        return -EBADMSG;
                /* "   N: LOCAL REMOTE ST TX:RX TR:WHEN RETRNSMT UID TIMEOUT INODE ..." */
                p += strspn(p, " ");
                p += strspn(p, "0123456789");
                if (*p++ != ':' || *p++ != ' ')
                        return -EBADMSG;
                if ((size_t) (nl - p) < 2 * endpoint_len + 4 || !parse_endpoint(p, words, local, &local_port) ||
                    p[endpoint_len] != ' ' || !parse_endpoint(p + endpoint_len + 1, words, remote, &rport) ||
                    p[2 * endpoint_len + 1] != ' ' || !parse_hex_u32(p + 2 * endpoint_len + 2, 2, &state))
                        return -EBADMSG;
                p += 2 * endpoint_len + 4;

                /* Skip tx:rx, tr:when, retrnsmt, uid and timeout: the inode is the sixth field on. */
                while (p < nl && field < 5) {
                        p += strspn(p, " ");
                        p += strcspn(p, " \n");
                        field++;
                }
                p += strspn(p, " ");
                {
                        char digits[24];
                        size_t n = strspn(p, "0123456789");
                        if (n == 0 || n >= sizeof(digits) || (p[n] != ' ' && p[n] != '\n'))
                                return -EBADMSG;
                        memcpy(digits, p, n);
                        digits[n] = 0;
                        if (safe_atou64(digits, &inode) < 0)
                                return -EBADMSG;
                }

                /* ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT: connected, or half-closed by one side. */
                if (state != 0x01 && state != 0x04 && state != 0x05 && state != 0x08)
                        continue;
                if (local_port != req->port || rport != remote_port || inode == 0)
                        continue;
                if (!request_matches(req, v6, local))
                        continue;
                *ret_inode = inode;
                return 0;
        }
        return -ENOENT;
}

int socket_link_inode(const char *link, uint64_t *ret) {
        char digits[24];
        size_t n;

        if (!startswith(link, "socket:["))
                return -ENOENT;
        link += strlen("socket:[");
        n = strspn(link, "0123456789");
        if (n == 0 || n >= sizeof(digits) || !streq(link + n, "]"))
                return -ENOENT;
        memcpy(digits, link, n);
        digits[n] = 0;
        return safe_atou64(digits, ret) < 0 ? -ENOENT : 0;
}

int proc_status_ppid(const char *text, pid_t *ret) {
        const char *p = strstr(text, "\nPPid:");
        char digits[16];
        uint32_t v;
        size_t n;

        if (!p)
                return -EBADMSG;
        p += strlen("\nPPid:");
        p += strspn(p, " \t");
        n = strspn(p, "0123456789");
        if (n == 0 || n >= sizeof(digits) || p[n] != '\n')
                return -EBADMSG;
        memcpy(digits, p, n);
        digits[n] = 0;
        if (safe_atou32(digits, &v) < 0 || v > INT32_MAX)
                return -EBADMSG;
        *ret = (pid_t) v;
        return 0;
}

int identify_escape_path(const char *path, char **ret) {
        size_t n = strlen(path);
        char *s, *q;

        s = malloc(4 * n + 1);
        if (!s)
                return -ENOMEM;
        q = s;
        for (const unsigned char *c = (const unsigned char *) path; *c; c++)
                if (*c < 0x21 || *c > 0x7e || *c == '\\')
                        q += sprintf(q, "\\x%02x", *c);
                else
                        *q++ = (char) *c;
        *q = 0;
        *ret = s;
        return 0;
}

static int append_escaped(char **line, const char *path) {
        _cleanup_free_ char *e = NULL, *joined = NULL;
        int r;

        r = identify_escape_path(path, &e);
        if (r < 0)
                return r;
        if (asprintf_safe(&joined, "%s %s", *line, e) < 0)
                return -ENOMEM;
        free(*line);
        *line = TAKE_PTR(joined);
        return 0;
}

int identify_format_ok(pid_t pid, const char *exe, char *const *ancestors, char **ret) {
        _cleanup_free_ char *line = NULL, *final = NULL;
        int r;

        if (asprintf_safe(&line, "OK %" PRIi32, (int32_t) pid) < 0)
                return -ENOMEM;
        r = append_escaped(&line, exe);
        if (r < 0)
                return r;
        STRV_FOREACH(a, ancestors)
                if ((r = append_escaped(&line, *a)) < 0)
                        return r;
        if (asprintf_safe(&final, "%s\n", line) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(final);
        return 0;
}

/* ---- the lookup ---- */

typedef struct PidSet {
        pid_t *pids;
        size_t n, allocated;
} PidSet;

static void pid_set_done(PidSet *s) {
        free(s->pids);
}

static int pid_set_add(PidSet *s, pid_t pid) {
        if (s->n >= IDENTIFY_PIDS_MAX)
                return -E2BIG;
        if (s->n == s->allocated) {
                size_t a = MAX(s->allocated * 2, (size_t) 64);
                pid_t *p = reallocarray(s->pids, a, sizeof(pid_t));
                if (!p)
                        return -ENOMEM;
                s->pids = p;
                s->allocated = a;
        }
        s->pids[s->n++] = pid;
        return 0;
}

static int compare_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static bool pid_set_contains(const PidSet *s, pid_t pid) {
        return s->n > 0 && bsearch(&pid, s->pids, s->n, sizeof(pid_t), compare_pid);
}

/* A table of /proc/net, read afresh: the kernel regenerates it from offset 0. */
static int read_fd_from_start(int fd, size_t max, char **ret) {
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno(); /* never 0: *ret is only unset on failure */
        return read_full_fd(fd, max, ret, NULL);
}

/* Every pid of every cgroup.procs at and below DIR_FD. */
static int collect_cgroup_pids(int dir_fd, unsigned depth, PidSet *set) {
        _cleanup_free_ char *procs = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        int fd, r;

        r = read_full_file_at(dir_fd, "cgroup.procs", CGROUP_PROCS_MAX, &procs, NULL);
        if (r == -ENOENT)
                return 0; /* removed meanwhile */
        if (r < 0)
                return r;
        for (char *p = procs, *nl; *p; p = nl + 1) {
                uint32_t pid;

                nl = strchr(p, '\n');
                if (!nl)
                        break;
                *nl = 0;
                if (safe_atou32(p, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                        return -EBADMSG;
                r = pid_set_add(set, (pid_t) pid);
                if (r < 0)
                        return r;
        }

        if (depth >= IDENTIFY_CGROUP_DEPTH_MAX)
                return 0;
        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                _cleanup_close_ int sub = -EBADF;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0)
                        continue; /* removed meanwhile */
                r = collect_cgroup_pids(sub, depth + 1, set);
                if (r < 0)
                        return r;
        }
        return -errno;
}

/* True if PID has the socket INODE open; *budget counts the descriptors looked at. */
static int pid_has_socket(int proc_fd, pid_t pid, uint64_t inode, size_t *budget) {
        _cleanup_(closedirp) DIR *d = NULL;
        char path[32];
        int fd;

        snprintf(path, sizeof(path), "%" PRIi32 "/fd", (int32_t) pid);
        fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? 0 : -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                char link[64];
                uint64_t ino;
                ssize_t k;

                if (de->d_name[0] == '.')
                        continue;
                if (*budget == 0)
                        return -E2BIG;
                (*budget)--;
                k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (k < 0)
                        continue; /* closed meanwhile */
                link[k] = 0;
                if (socket_link_inode(link, &ino) >= 0 && ino == inode)
                        return 1;
        }
        return errno == ESRCH || errno == ENOENT ? 0 : -errno;
}

/* /proc/PID/exe, without the " (deleted)" the kernel appends when the binary was removed. */
static int read_exe(int proc_fd, pid_t pid, char **ret) {
        static const char deleted[] = " (deleted)";
        char path[32], target[PATH_MAX + sizeof(deleted)];
        ssize_t k;
        char *s;

        snprintf(path, sizeof(path), "%" PRIi32 "/exe", (int32_t) pid);
        k = readlinkat(proc_fd, path, target, sizeof(target) - 1);
        if (k < 0)
                return -errno;
        target[k] = 0;
        if (endswith(target, deleted)) {
                struct stat st;
                /* Only if the file is really gone: a binary may be named "x (deleted)". */
                if (fstatat(proc_fd, path, &st, 0) >= 0 && st.st_nlink == 0)
                        target[k - strlen(deleted)] = 0;
        }
        s = strdup(target);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int read_ppid(int proc_fd, pid_t pid, pid_t *ret) {
        _cleanup_free_ char *text = NULL;
        char path[32];
        int r;

        snprintf(path, sizeof(path), "%" PRIi32 "/status", (int32_t) pid);
        r = read_full_file_at(proc_fd, path, PROC_STATUS_MAX, &text, NULL);
        if (r < 0)
                return r;
        return proc_status_ppid(text, ret);
}

/* The reply for one owner: its exe and its ancestors' within the sandbox. */
static int identify_owner(const IdentifyContext *ctx, const PidSet *set, pid_t pid, char **ret) {
        _cleanup_strv_free_ char **ancestors = NULL;
        _cleanup_free_ char *exe = NULL;
        pid_t p = pid;
        int r;

        r = read_exe(ctx->proc_fd, pid, &exe);
        if (r < 0)
                return r;
        for (size_t depth = 0; depth < IDENTIFY_ANCESTORS_MAX; depth++) {
                char *a;

                r = read_ppid(ctx->proc_fd, p, &p);
                if (r < 0)
                        return r;
                if (!pid_set_contains(set, p))
                        break;
                r = read_exe(ctx->proc_fd, p, &a);
                if (r < 0)
                        return r;
                r = strv_consume(&ancestors, a);
                if (r < 0)
                        return r;
        }
        return identify_format_ok(pid, exe, ancestors, ret);
}

static int find_inode(const IdentifyContext *ctx, const IdentifyRequest *req, uint64_t *ret) {
        int fds[2] = { ctx->tcp_fd, ctx->tcp6_fd };

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                _cleanup_free_ char *text = NULL;
                int r;

                if (fds[i] < 0 || (i == 0 && req->family != AF_INET))
                        continue;
                r = read_fd_from_start(fds[i], IDENTIFY_TCP_TABLE_MAX, &text);
                if (r < 0)
                        return r;
                r = proc_net_tcp_find_inode(text, i == 1, req, ctx->proxy_port, ret);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

/* 0 and the reply, or a negative errno mapped to an ERR reason by the caller. */
static int lookup(const IdentifyContext *ctx, const IdentifyRequest *req, char **ret) {
        _cleanup_(pid_set_done) PidSet set = {};
        _cleanup_free_ char *best = NULL;
        size_t budget = IDENTIFY_FDS_MAX;
        uint64_t inode;
        int r;

        r = find_inode(ctx, req, &inode);
        if (r < 0)
                return r;
        r = collect_cgroup_pids(ctx->cgroup_fd, 0, &set);
        if (r < 0)
                return r;
        if (set.n > 0)
                qsort(set.pids, set.n, sizeof(pid_t), compare_pid);

        /* Every owner: several processes may share the socket (after fork()); they must agree. */
        for (size_t i = 0; i < set.n; i++) {
                _cleanup_free_ char *reply = NULL;

                r = pid_has_socket(ctx->proc_fd, set.pids[i], inode, &budget);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                r = identify_owner(ctx, &set, set.pids[i], &reply);
                if (r == -ENOENT || r == -ESRCH)
                        continue; /* exited meanwhile */
                if (r < 0)
                        return r;
                if (!best) {
                        /* the lowest pid: the set is sorted */
                        best = TAKE_PTR(reply);
                        continue;
                }
                /* Same binaries? Compare what follows "OK <pid> ". */
                if (!streq(strchr(best + 3, ' '), strchr(reply + 3, ' ')))
                        return -ENOTUNIQ;
        }
        if (!best)
                return -ENOENT;
        *ret = TAKE_PTR(best);
        return 0;
}

int identify_answer(const IdentifyContext *ctx, const void *request, size_t size, char **ret_reply,
                    int *ret_error) {
        IdentifyRequest req;
        const char *reason = NULL;
        char *reply = NULL;
        int r;

        r = identify_request_parse(request, size, &req);
        if (r < 0)
                reason = "bad-request";
        else {
                r = lookup(ctx, &req, &reply);
                if (r >= 0 && strlen(reply) >= IDENTIFY_REPLY_MAX) {
                        reply = mfree(reply);
                        r = -E2BIG;
                }
                if (r == -ENOENT)
                        reason = "not-found";
                else if (r == -ENOTUNIQ)
                        reason = "ambiguous";
                else if (r == -E2BIG || r == -EFBIG)
                        reason = "too-large";
                else if (r == -ENOMEM)
                        return r;
                else if (r < 0)
                        reason = "internal";
        }
        if (reason && asprintf_safe(&reply, "ERR %s\n", reason) < 0)
                return -ENOMEM;
        *ret_reply = reply;
        *ret_error = reason && !streq(reason, "bad-request") && !streq(reason, "not-found") ? r : 0;
        return 0;
}
