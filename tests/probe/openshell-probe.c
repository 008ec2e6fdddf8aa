/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-probe: runs inside a sandbox and tries ONE thing the test names, then prints one line,
 * "ok" or "denied: <errno name>: <message>", and exits 0 (it worked) or 1 (it was refused); 2 means
 * the probe itself was misused. Tests assert what the sandbox lets its agent do (crun's tests/init,
 * bubblewrap's try-syscall). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>

static int report(int r) {
        if (r >= 0) {
                puts("ok");
                return 0;
        }
        printf("denied: %s: %s\n", strerrorname_np(errno) ?: "?", strerror(errno));
        return 1;
}

static int usage(void) {
        fputs("usage: openshell-probe open-read PATH | open-write PATH | mount | unshare user|net|mount|pid |\n"
              "       socket raw|packet|inet | ptrace PID | kill PID | setuid | euid | chmod-suid PATH\n",
              stderr);
        return 2;
}

int main(int argc, char *argv[]) {
        const char *what = argc > 1 ? argv[1] : "";
        const char *arg = argc > 2 ? argv[2] : NULL;

        if (!strcmp(what, "open-read") && arg)
                return report(open(arg, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
        if (!strcmp(what, "open-write") && arg)
                return report(open(arg, O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644));
        if (!strcmp(what, "mount"))
                return report(mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
        if (!strcmp(what, "unshare") && arg) {
                int flags = !strcmp(arg, "user")  ? CLONE_NEWUSER :
                            !strcmp(arg, "net")   ? CLONE_NEWNET :
                            !strcmp(arg, "mount") ? CLONE_NEWNS :
                            !strcmp(arg, "pid")   ? CLONE_NEWPID : 0;
                if (!flags)
                        return usage();
                return report(unshare(flags));
        }
        if (!strcmp(what, "socket") && arg) {
                if (!strcmp(arg, "raw"))
                        return report(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
                if (!strcmp(arg, "packet"))
                        return report(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
                if (!strcmp(arg, "inet"))
                        return report(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                return usage();
        }
        if (!strcmp(what, "ptrace") && arg)
                return report((int) ptrace(PTRACE_ATTACH, (pid_t) atoi(arg), NULL, NULL));
        if (!strcmp(what, "kill") && arg)
                return report(kill((pid_t) atoi(arg), 0));
        if (!strcmp(what, "setuid"))
                return report(setuid(0));
        if (!strcmp(what, "euid")) {
                printf("%u\n", (unsigned) geteuid());
                return 0;
        }
        if (!strcmp(what, "chmod-suid") && arg)
                return report(chmod(arg, 04755));
        return usage();
}
