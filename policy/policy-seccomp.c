/* SPDX-License-Identifier: Apache-2.0 */
/* The seccomp plan (plain data, from policy-compile.c) -> a libseccomp filter / BPF program. */

#include <string.h>

#include "policy-compile.h"

const char *seccomp_op_to_string(SeccompOp op) {
        static const char *const names[_SECCOMP_OP_MAX] = {
                [SECCOMP_OP_EQ] = "eq",
                [SECCOMP_OP_NE] = "ne",
                [SECCOMP_OP_MASKED_EQ] = "masked_eq",
        };
        return op >= 0 && op < _SECCOMP_OP_MAX ? names[op] : NULL;
}

static int add_rules(scmp_filter_ctx ctx, const PolicySeccomp *s) {
        for (size_t i = 0; i < s->n_rules; i++) {
                const SeccompRule *rule = &s->rules[i];
                struct scmp_arg_cmp cmp[ELEMENTSOF(rule->args)];
                int nr = seccomp_syscall_resolve_name(rule->syscall), r;

                if (nr == __NR_SCMP_ERROR)
                        return -EINVAL;
                for (unsigned k = 0; k < rule->n_args; k++) {
                        const SeccompArg *a = &rule->args[k];
                        switch (a->op) {
                        case SECCOMP_OP_EQ:
                                cmp[k] = SCMP_CMP(a->index, SCMP_CMP_EQ, a->value);
                                break;
                        case SECCOMP_OP_NE:
                                cmp[k] = SCMP_CMP(a->index, SCMP_CMP_NE, a->value);
                                break;
                        case SECCOMP_OP_MASKED_EQ:
                                cmp[k] = SCMP_CMP(a->index, SCMP_CMP_MASKED_EQ, a->mask, a->value);
                                break;
                        default:
                                return -EINVAL;
                        }
                }
                r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint16_t) rule->error), nr, rule->n_args, cmp);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build(const PolicySeccomp *s, bool secondary, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        uint32_t native = seccomp_arch_native();
        int r;

        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0) /* libseccomp refuses KILL_PROCESS when it cannot probe the kernel's API level */
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL);
        if (r >= 0 && secondary) {
                /* The secondary ABIs of the local machine, so a 32-bit program cannot walk around the
                 * filter. (SystemCallArchitectures=native also refuses them; this holds without it.) */
                if (native == SCMP_ARCH_X86_64) {
                        r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
                        if (r >= 0)
                                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
                } else if (native == SCMP_ARCH_AARCH64)
                        r = seccomp_arch_add(ctx, SCMP_ARCH_ARM);
        }
        if (r >= 0)
                r = add_rules(ctx, s);
        if (r < 0) {
                seccomp_release(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

int policy_seccomp_build(const PolicySeccomp *s, scmp_filter_ctx *ret) {
        int r;

        r = build(s, true, ret);
        if (r >= 0)
                return r;
        /* Some argument filters cannot be expressed on a secondary ABI (x86's socketcall()
         * multiplexer hides socket()'s arguments): then the filter covers the native ABI only, and the
         * others are killed by the bad-architecture action. */
        return build(s, false, ret);
}

int policy_seccomp_export_bpf(const PolicySeccomp *s, int fd) {
        scmp_filter_ctx ctx;
        int r;

        if (fd < 0)
                return -EBADF;
        r = policy_seccomp_build(s, &ctx);
        if (r < 0)
                return r;
        r = seccomp_export_bpf(ctx, fd);
        seccomp_release(ctx);
        return r;
}
