/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-man: writes the manual pages of openshell, in man(7) format, from the same Verb tables
 * that `--help` prints (cli-verb.h): openshell.1, one page per group (openshell-sandbox.1) and one per
 * command (openshell-sandbox-create.1), as git names its pages. meson runs it at build time; it is
 * not installed.
 *
 *   openshell-man DIR     writes the pages into DIR (created if needed), and only them
 *   openshell-man --list  prints the names of the pages, one a line
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "main-func.h"
#include "openshell.h"
#include "string-util.h"

#define PAGE_SECTION "1"

/* Writes s[0..n) as troff text: backslashes and minus signs escaped, and a leading '.' or '\'' (which
 * would start a request) made harmless. */
static void man_escape(FILE *f, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (i == 0 && (s[i] == '.' || s[i] == '\''))
                        fputs("\\&", f);
                if (s[i] == '\\')
                        fputs("\\e", f);
                else if (s[i] == '-')
                        fputs("\\-", f);
                else
                        fputc(s[i], f);
        }
}

static void man_escape_line(FILE *f, const char *s) {
        man_escape(f, s, strlen(s));
        fputc('\n', f);
}

/* A text of the Verb format (cli-verb.h): a line is a paragraph, an empty line a paragraph break and a
 * line starting with two spaces is shown as it is (a block of such lines is set in no-fill mode). In
 * an item (after .TP) paragraphs keep the item's indentation (.IP). */
static void man_text(FILE *f, const char *text, bool in_item) {
        const char *paragraph = in_item ? ".IP\n" : ".PP\n";
        bool first = true, literal = false, after_break = false;

        for (const char *p = text; p && *p;) {
                size_t n = strcspn(p, "\n");

                if (n == 0)
                        after_break = true;
                else if (startswith(p, "  ")) {
                        if (!literal) {
                                if (!first)
                                        fputs(paragraph, f);
                                fputs(".RS 4\n.nf\n", f);
                                literal = true;
                        } else if (after_break)
                                fputs("\n", f);
                        man_escape(f, p + 2, n - 2);
                        fputc('\n', f);
                        after_break = false;
                        first = false;
                } else {
                        if (literal) {
                                fputs(".fi\n.RE\n", f);
                                literal = false;
                                after_break = true;
                        }
                        if (!first)
                                fputs(after_break ? paragraph : ".br\n", f);
                        man_escape(f, p, n);
                        fputc('\n', f);
                        after_break = false;
                        first = false;
                }
                p += n;
                if (*p)
                        p++;
        }
        if (literal)
                fputs(".fi\n.RE\n", f);
}

static void man_items(FILE *f, const VerbItem *items) {
        for (const VerbItem *i = items; i && i->term; i++) {
                fputs(".TP\n\\fB", f);
                man_escape(f, i->term, strlen(i->term));
                fputs("\\fR\n", f);
                man_text(f, i->text, true);
        }
}

/* "openshell sandbox create" -> "openshell-sandbox-create". */
static char *page_name(const char *path) {
        char *name = strdup(path);

        for (char *c = name; c && *c; c++)
                if (*c == ' ')
                        *c = '-';
        return name;
}

static void man_page(FILE *f, const Verb *v, const char *path, const char *parent_path) {
        _cleanup_free_ char *name = page_name(path), *parent = parent_path ? page_name(parent_path) : NULL;

        fputs(".TH \"", f);
        for (const char *c = name; c && *c; c++)
                fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, f);
        fputs("\" " PAGE_SECTION " \"\" \"openshell-systemd " PROJECT_VERSION "\" \"openshell\"\n", f);

        fputs(".SH NAME\n", f);
        man_escape(f, name, strlen(name ?: ""));
        fputs(" \\- ", f);
        man_escape_line(f, v->summary);

        fputs(".SH SYNOPSIS\n", f);
        for (const char *p = verb_synopsis(v);;) {
                size_t n = strcspn(p, "\n");

                fputs(p == verb_synopsis(v) ? ".PP\n" : ".br\n", f);
                fputs("\\fB", f);
                man_escape(f, path, strlen(path));
                fputs("\\fR ", f);
                man_escape(f, p, n);
                fputc('\n', f);
                p += n;
                if (!*p || !*++p)
                        break;
        }

        if (v->description) {
                fputs(".SH DESCRIPTION\n", f);
                man_text(f, v->description, false);
        }
        if (v->verbs) {
                CommandRow rows[COMMAND_ROWS_MAX];
                size_t n = command_rows(v, rows, ELEMENTSOF(rows));

                fputs(".SH COMMANDS\n", f);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *full = NULL, *ref = NULL;

                        if (asprintf_safe(&full, "%s %s", path, rows[i].term) < 0)
                                continue;
                        ref = page_name(full);
                        fputs(".TP\n\\fB", f);
                        man_escape(f, rows[i].term, strlen(rows[i].term));
                        fputs("\\fR (", f);
                        man_escape(f, ref ?: "", strlen(ref ?: ""));
                        fputs("(" PAGE_SECTION "))\n", f);
                        man_escape_line(f, rows[i].summary);
                }
        }
        fputs(".SH OPTIONS\n", f);
        man_items(f, v->options);
        man_items(f, (const VerbItem[]) { { "-h, --help", "Show this help and exit." }, {} });
        if (v->exit_status) {
                fputs(".SH \"EXIT STATUS\"\n", f);
                man_items(f, v->exit_status);
        }
        if (v->files) {
                fputs(".SH FILES\n", f);
                man_items(f, v->files);
        }
        if (v->examples) {
                fputs(".SH EXAMPLES\n", f);
                man_text(f, v->examples, false);
        }
        if (parent || v->see_also) {
                fputs(".SH \"SEE ALSO\"\n", f);
                if (parent) {
                        man_escape(f, parent, strlen(parent));
                        fputs("(" PAGE_SECTION ")\n", f);
                }
                if (v->see_also)
                        man_text(f, v->see_also, false);
        }
}

typedef int (*PageFunc)(const Verb *v, const char *path, const char *parent_path, void *userdata);

/* Calls f for v and, depth first, every group and command below it. */
static int walk(const Verb *v, const char *path, const char *parent_path, PageFunc f, void *userdata) {
        int r;

        r = f(v, path, parent_path, userdata);
        if (r < 0)
                return r;
        for (const Verb *const *c = v->verbs; c && *c; c++) {
                _cleanup_free_ char *child = NULL;

                if (asprintf_safe(&child, "%s %s", path, (*c)->name) < 0)
                        return log_oom();
                r = walk(*c, child, path, f, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int list_page(const Verb *v, const char *path, const char *parent_path, void *userdata) {
        _cleanup_free_ char *name = page_name(path);

        if (!name)
                return log_oom();
        printf("%s.%s\n", name, PAGE_SECTION);
        return 0;
}

static int write_page(const Verb *v, const char *path, const char *parent_path, void *userdata) {
        int dir_fd = *(int *) userdata;
        _cleanup_free_ char *name = page_name(path), *file = NULL;
        _cleanup_close_ int fd = -EBADF;
        FILE *f;

        if (!name || asprintf_safe(&file, "%s.%s", name, PAGE_SECTION) < 0)
                return log_oom();
        fd = openat(dir_fd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", file);
        f = fdopen(fd, "w");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", file);
        TAKE_FD(fd);
        man_page(f, v, path, parent_path);
        if (ferror(f) | (fclose(f) != 0))
                return log_error_errno(errno > 0 ? errno : EIO, "Failed to write %s: %m", file);
        return 0;
}

/* Removes the pages of an earlier run, so that a command that is gone leaves no page behind. */
static int remove_old_pages(int dir_fd) {
        _cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_(closedirp) DIR *d = NULL;

        if (fd < 0)
                return log_error_errno(errno, "Failed to duplicate the directory fd: %m");
        d = fdopendir(fd);
        if (!d)
                return log_error_errno(errno, "Failed to read the output directory: %m");
        TAKE_FD(fd);
        for (struct dirent *de; (de = readdir(d));)
                if (endswith(de->d_name, "." PAGE_SECTION) && unlinkat(dir_fd, de->d_name, 0) < 0)
                        return log_error_errno(errno, "Failed to remove %s: %m", de->d_name);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        log_set_prefix("openshell-man");
        if (argc != 2) {
                log_error("usage: openshell-man DIR | --list");
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--list"))
                return walk(&openshell_verb, "openshell", NULL, list_page, NULL);

        if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", argv[1]);
        dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", argv[1]);
        r = remove_old_pages(dir_fd);
        if (r < 0)
                return r;
        return walk(&openshell_verb, "openshell", NULL, write_page, &dir_fd);
}

DEFINE_MAIN_FUNCTION(run);
