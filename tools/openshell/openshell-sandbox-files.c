/* SPDX-License-Identifier: Apache-2.0 */
/* openshell sandbox upload|download: files between the host and a sandbox's /sandbox.
 *
 * Only the sandbox's writable area is reachable: its workdir, SANDBOX_STATE_DIR/NAME, which the agent
 * sees at /sandbox. Everything inside it is controlled by the agent, so every path is resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) relative to the workdir: "..",
 * absolute symbolic links and links that lead out are refused by the kernel, not by string checks,
 * and files are created relative to directory descriptors, never by path, so a link swapped in
 * meanwhile cannot redirect a write. Uploaded files belong to the agent's account. */

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "log.h"
#include "openshell.h"
#include "sandbox-name.h"
#include "string-util.h"

#define COPY_DEPTH_MAX 64

typedef struct Copy {
        uid_t uid; /* owner of what is created in the sandbox */
        gid_t gid;
        unsigned files, dirs, skipped;
} Copy;

static int open_workdir(const char *name) {
        _cleanup_free_ char *path = NULL;
        int fd;

        if (sandbox_workdir_path(name, &path) < 0)
                return log_oom();
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        log_error("Sandbox '%s' has no workdir (%s); has it been started?", name, path);
                else
                        log_error_errno(errno, "Failed to open %s: %m", path);
                return -errno;
        }
        return fd;
}

/* "/sandbox/a/b" or "a/b" -> "a/b"; "/sandbox" -> ""; anything else outside /sandbox -> -EPERM. */
static int sandbox_relative(const char *p, const char **ret) {
        if (p[0] == '/') {
                if (!startswith(p, SANDBOX_WORKDIR_IN_SANDBOX) ||
                    (p[strlen(SANDBOX_WORKDIR_IN_SANDBOX)] != '/' && p[strlen(SANDBOX_WORKDIR_IN_SANDBOX)] != 0))
                        return -EPERM;
                p += strlen(SANDBOX_WORKDIR_IN_SANDBOX);
        }
        while (*p == '/')
                p++;
        *ret = p;
        return 0;
}

static bool name_is_plain(const char *n) {
        return !isempty(n) && !streq(n, ".") && !streq(n, "..") && !strchr(n, '/');
}

static const char *resolve_error(int r) {
        return r == -EXDEV ? "leads outside the sandbox's /sandbox" : r == -ENOENT ? "does not exist" : strerror(-r);
}

/* NAME SRC [DST] of upload and download. Returns false when the command must end now with *ret_status
 * (help printed, or a usage error). */
static bool parse_copy_args(int argc, char *argv[], const char *dst_default, const char **ret_name,
                            const char **ret_src, const char **ret_dst, int *ret_status) {
        if (!verb_parse_no_options(argc, argv, ret_status))
                return false;
        argc -= optind;
        argv += optind;
        if (argc < 2 || argc > 3) {
                *ret_status = usage_error("expected NAME SRC [DST], got %d argument%s", argc, argc == 1 ? "" : "s");
                return false;
        }
        if (!sandbox_name_is_valid(argv[0])) {
                *ret_status = usage_error("invalid sandbox name '%s'", argv[0]);
                return false;
        }
        *ret_name = argv[0];
        *ret_src = argv[1];
        *ret_dst = argc > 2 ? argv[2] : dst_default;
        return true;
}

/* ---- upload ---- */

static int upload_tree(Copy *c, int src_dir, const char *src_name, int dst_dir, const char *dst_name, unsigned depth);

static int upload_file(Copy *c, int src, const struct stat *st, int dst_dir, const char *dst_name) {
        _cleanup_close_ int out = -EBADF;
        char tmp[64];
        int r;

        /* A temporary name in the same directory, then rename: the target never exists half-written. */
        snprintf(tmp, sizeof tmp, ".openshell-upload-%d-%u", (int) getpid(), c->files);
        out = openat(dst_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0)
                return log_error_errno(errno, "Failed to create a file in the sandbox: %m");
        r = copy_fd(src, out);
        if (r >= 0 && fchown(out, c->uid, c->gid) < 0)
                r = -errno;
        if (r >= 0 && fchmod(out, st->st_mode & 0755) < 0)
                r = -errno;
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && renameat(dst_dir, tmp, dst_dir, dst_name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dst_dir, tmp, 0);
                return log_error_errno(r, "Failed to upload '%s': %m", dst_name);
        }
        c->files++;
        return 0;
}

static int upload_dir_entries(Copy *c, int src, int dst, unsigned depth) {
        _cleanup_(closedirp) DIR *d = fdopendir(src);
        int r = 0;

        if (!d) {
                safe_close(src);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                int k;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = upload_tree(c, dirfd(d), de->d_name, dst, de->d_name, depth + 1);
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}

static int upload_tree(Copy *c, int src_dir, const char *src_name, int dst_dir, const char *dst_name, unsigned depth) {
        _cleanup_close_ int src = -EBADF, dst = -EBADF;
        struct stat st;

        if (depth > COPY_DEPTH_MAX)
                return log_error_errno(ELOOP, "'%s': directories nested too deep", src_name);
        src = openat(src_dir, src_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (src < 0) {
                if (errno == ELOOP) { /* a symbolic link: not copied (it would point elsewhere inside) */
                        log_warning("Skipping symbolic link '%s'.", src_name);
                        c->skipped++;
                        return 0;
                }
                return log_error_errno(errno, "Failed to open '%s': %m", src_name);
        }
        if (fstat(src, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode))
                return upload_file(c, src, &st, dst_dir, dst_name);
        if (!S_ISDIR(st.st_mode)) {
                log_warning("Skipping '%s': not a regular file or directory.", src_name);
                c->skipped++;
                return 0;
        }

        if (mkdirat(dst_dir, dst_name, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create directory '%s' in the sandbox: %m", dst_name);
        dst = openat(dst_dir, dst_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dst < 0)
                return log_error_errno(errno, "Failed to open directory '%s' in the sandbox: %m", dst_name);
        if (fchown(dst, c->uid, c->gid) < 0)
                return log_error_errno(errno, "Failed to hand '%s' to the sandbox: %m", dst_name);
        c->dirs++;
        return upload_dir_entries(c, TAKE_FD(src), dst, depth);
}

static int agent_account(Copy *c) {
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(SANDBOX_AGENT_USER);
        if (!pw)
                return log_error_errno(errno > 0 ? errno : ESRCH, "Agent account '%s' does not exist: %m",
                                       SANDBOX_AGENT_USER);
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        return 0;
}

static int sandbox_upload(int argc, char *argv[]) {
        _cleanup_close_ int workdir = -EBADF, target = -EBADF, parent = -EBADF;
        _cleanup_free_ char *src_copy = NULL, *rel_dir = NULL;
        const char *name, *src, *dst, *rel, *base, *dst_name;
        Copy c = {};
        int r;

        if (!parse_copy_args(argc, argv, SANDBOX_WORKDIR_IN_SANDBOX, &name, &src, &dst, &r))
                return r;
        if (sandbox_relative(dst, &rel) < 0)
                return usage_error("DST '%s' is outside /sandbox: only the sandbox's workdir can be written from "
                                   "outside.",
                                   dst);
        src_copy = strdup(src);
        if (!src_copy)
                return log_oom();
        base = basename(src_copy);
        if (!name_is_plain(base))
                return usage_error("SRC '%s' has no usable file name.", src);

        r = agent_account(&c);
        if (r < 0)
                return r;
        workdir = open_workdir(name);
        if (workdir < 0)
                return workdir;

        /* DST an existing directory: SRC goes inside it. Otherwise DST names the new file. */
        target = isempty(rel) ? fcntl(workdir, F_DUPFD_CLOEXEC, 3) :
                                openat_beneath(workdir, rel, O_RDONLY | O_DIRECTORY, 0);
        if (target >= 0) {
                parent = TAKE_FD(target);
                dst_name = base;
        } else if (target == -ENOTDIR || target == -ENOENT) {
                const char *slash = strrchr(rel, '/');
                rel_dir = slash ? strndup(rel, (size_t) (slash - rel)) : strdup("");
                if (!rel_dir)
                        return log_oom();
                dst_name = slash ? slash + 1 : rel;
                if (!name_is_plain(dst_name))
                        return usage_error("DST '%s' does not name a file.", dst);
                parent = isempty(rel_dir) ? fcntl(workdir, F_DUPFD_CLOEXEC, 3) :
                                            openat_beneath(workdir, rel_dir, O_RDONLY | O_DIRECTORY, 0);
                if (parent < 0)
                        return log_error_errno(parent, "DST '%s': its directory %s", dst, resolve_error(parent));
        } else
                return log_error_errno(target, "DST '%s' %s", dst, resolve_error(target));

        r = upload_tree(&c, AT_FDCWD, src, parent, dst_name, 0);
        if (r < 0)
                return r;
        printf("Uploaded %u file%s%s to sandbox '%s'%s\n", c.files, c.files == 1 ? "" : "s",
               c.dirs > 0 ? " (with directories)" : "", name,
               c.skipped > 0 ? " (some entries skipped, see above)" : "");
        return EXIT_SUCCESS;
}

/* ---- download ---- */

static int download_tree(Copy *c, int src, const char *what, int dst_dir, const char *dst_name, unsigned depth);

static int download_dir_entries(Copy *c, int src, int dst, unsigned depth) {
        _cleanup_(closedirp) DIR *d = fdopendir(src);
        int r = 0;

        if (!d) {
                safe_close(src);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                int fd, k;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                /* Inside a directory, links are not followed at all. */
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                if (fd < 0) {
                        log_warning("Skipping '%s': %s", de->d_name,
                                    errno == ELOOP ? "symbolic link" : strerror(errno));
                        c->skipped++;
                        continue;
                }
                k = download_tree(c, fd, de->d_name, dst, de->d_name, depth + 1);
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}

/* Takes ownership of src. */
static int download_tree(Copy *c, int src_fd, const char *what, int dst_dir, const char *dst_name, unsigned depth) {
        _cleanup_close_ int src = src_fd, out = -EBADF;
        struct stat st;
        int r;

        if (depth > COPY_DEPTH_MAX)
                return log_error_errno(ELOOP, "'%s': directories nested too deep", what);
        if (fstat(src, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                if (mkdirat(dst_dir, dst_name, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create '%s': %m", dst_name);
                out = openat(dst_dir, dst_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (out < 0)
                        return log_error_errno(errno, "Failed to open '%s': %m", dst_name);
                c->dirs++;
                return download_dir_entries(c, TAKE_FD(src), out, depth);
        }
        if (!S_ISREG(st.st_mode)) {
                log_warning("Skipping '%s': not a regular file or directory.", what);
                c->skipped++;
                return 0;
        }
        /* Reading a regular file never blocks; O_NONBLOCK was only against FIFOs. */
        out = openat(dst_dir, dst_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (out < 0)
                return log_error_errno(errno, "Failed to create '%s': %m", dst_name);
        r = copy_fd(src, out);
        if (r < 0)
                return log_error_errno(r, "Failed to copy '%s': %m", what);
        c->files++;
        return 0;
}

static int sandbox_download(int argc, char *argv[]) {
        _cleanup_close_ int workdir = -EBADF, src = -EBADF, dst_dir = -EBADF;
        _cleanup_free_ char *rel_copy = NULL, *dst_copy = NULL;
        const char *name, *path, *rel, *dst, *dst_name;
        Copy c = {};
        struct stat st;
        int r;

        if (!parse_copy_args(argc, argv, ".", &name, &path, &dst, &r))
                return r;
        if (sandbox_relative(path, &rel) < 0 || isempty(rel))
                return usage_error("SRC '%s' must name something under /sandbox.", path);

        workdir = open_workdir(name);
        if (workdir < 0)
                return workdir;
        src = openat_beneath(workdir, rel, O_RDONLY | O_NONBLOCK, 0);
        if (src < 0)
                return log_error_errno(src, "SRC '%s' %s", path, resolve_error(src));

        /* DST an existing directory: SRC goes inside under its own name; otherwise DST is the new name. */
        if (stat(dst, &st) >= 0 && S_ISDIR(st.st_mode)) {
                rel_copy = strdup(rel);
                if (!rel_copy)
                        return log_oom();
                dst_name = basename(rel_copy);
                dst_dir = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else {
                dst_copy = strdup(dst);
                rel_copy = strdup(dst);
                if (!dst_copy || !rel_copy)
                        return log_oom();
                dst_name = basename(rel_copy);
                dst_dir = open(dirname(dst_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (dst_dir < 0)
                return log_error_errno(errno, "DST '%s': %m", dst);
        if (!name_is_plain(dst_name))
                return usage_error("DST '%s' does not name a file.", dst);

        r = download_tree(&c, TAKE_FD(src), path, dst_dir, dst_name, 0);
        if (r < 0)
                return r;
        printf("Downloaded %u file%s from sandbox '%s'%s\n", c.files, c.files == 1 ? "" : "s", name,
               c.skipped > 0 ? " (some entries skipped, see above)" : "");
        return EXIT_SUCCESS;
}

/* What the manuals of upload and download share. */
#define FILES_WORKDIR_TEXT                                                                                      \
        "Only the sandbox's workdir " SANDBOX_STATE_DIR "/NAME, its " SANDBOX_WORKDIR_IN_SANDBOX ", is "          \
        "reachable; a path in the sandbox is absolute (" SANDBOX_WORKDIR_IN_SANDBOX "/a/b) or relative to it "    \
        "(a/b). Everything there is the agent's, so each path is resolved by the kernel with openat2() and "    \
        "RESOLVE_BENEATH: '..' and symbolic links that lead out of the workdir are refused, and files are "     \
        "created relative to directories already opened, so a link swapped in meanwhile redirects nothing. "    \
        "Symbolic links, devices, sockets and FIFOs inside a copied directory are skipped with a warning; "     \
        "directories nest at most 64 deep. The sandbox need not be running, but must have been started once "  \
        "(the supervisor creates the workdir).\n"

#define FILES_EXIT_STATUS                                                                                       \
        { "0", "Copied; entries skipped with a warning (links, devices) do not count as failures." },           \
        { "1", "The sandbox has no workdir, a path leads outside it, or a copy failed (what was copied before " \
               "stays)." },                                                                                     \
        { "2", "Usage error: an unknown option, not 2 or 3 arguments, an invalid NAME, a path outside "         \
               SANDBOX_WORKDIR_IN_SANDBOX " or without a file name." }

const Verb sandbox_upload_verb = {
        .name = "upload",
        .summary = "Copy files from the host into a sandbox's " SANDBOX_WORKDIR_IN_SANDBOX,
        .synopsis = "NAME SRC [DST]",
        .description =
                "Copy the file or directory SRC from the host into the sandbox NAME. DST (default "
                SANDBOX_WORKDIR_IN_SANDBOX ") is a directory that receives SRC under its own name if it exists, "
                "else the new name of SRC in an existing directory. Each file is written to a temporary name and "
                "renamed, so the agent never sees it half-written, and replaces a file of the same name. What is "
                "created belongs to the agent's account, " SANDBOX_AGENT_USER "; files keep their permission bits "
                "masked with 0755. SRC itself must not be a symbolic link (it would be skipped).\n"
                "\n" FILES_WORKDIR_TEXT,
        .exit_status = (const VerbItem[]) { FILES_EXIT_STATUS, {} },
        .examples = "  openshell sandbox upload demo ./src\n"
                    "  openshell sandbox upload demo config.yaml /sandbox/etc/config.yaml\n",
        .see_also = "The same from the host, without the protection against links:\n"
                    "\n"
                    "  cp -r SRC " SANDBOX_STATE_DIR "/NAME/DST && chown -R " SANDBOX_AGENT_USER " ...\n"
                    "\n"
                    "openshell sandbox download, openat2(2).\n",
        .run = sandbox_upload,
        .getopt = verb_no_options,
};

const Verb sandbox_download_verb = {
        .name = "download",
        .summary = "Copy files from a sandbox's " SANDBOX_WORKDIR_IN_SANDBOX " to the host",
        .synopsis = "NAME SRC [DST]",
        .description =
                "Copy the file or directory SRC, a path in the sandbox NAME's " SANDBOX_WORKDIR_IN_SANDBOX
                ", to DST on the host (default: the current directory). An existing directory DST receives SRC "
                "under its own name; otherwise DST is the new name. Files are created with mode 0644 (directories "
                "0755) and belong to the user running openshell; an existing file of the same name is "
                "overwritten. SRC itself may be a link that stays inside the workdir; links inside a copied "
                "directory are not followed.\n"
                "\n" FILES_WORKDIR_TEXT,
        .exit_status = (const VerbItem[]) { FILES_EXIT_STATUS, {} },
        .examples = "  openshell sandbox download demo /sandbox/report.md\n"
                    "  openshell sandbox download demo results ./results-demo\n",
        .see_also = "openshell sandbox upload, openat2(2).\n",
        .run = sandbox_download,
        .getopt = verb_no_options,
};
