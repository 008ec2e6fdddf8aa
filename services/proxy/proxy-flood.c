/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "proxy-flood.h"

void flood_limiter_done(FloodLimiter *l) {
        for (size_t i = 0; i < l->n_hosts; i++)
                free(l->hosts[i].host);
        l->hosts = mfree(l->hosts);
        l->n_hosts = 0;
        l->other_suppressed = 0;
}

int flood_admit(FloodLimiter *l, const char *host) {
        FloodHost *h = NULL;

        for (size_t i = 0; i < l->n_hosts; i++)
                if (strcmp(l->hosts[i].host, host) == 0) {
                        h = &l->hosts[i];
                        break;
                }
        if (!h) {
                FloodHost *n;
                char *copy;

                if (l->n_hosts >= l->max_hosts) {
                        l->other_suppressed++;
                        return 0;
                }
                copy = strdup(host);
                if (!copy)
                        return -ENOMEM;
                n = reallocarray(l->hosts, l->n_hosts + 1, sizeof(FloodHost));
                if (!n) {
                        free(copy);
                        return -ENOMEM;
                }
                l->hosts = n;
                h = &l->hosts[l->n_hosts++];
                *h = (FloodHost) { .host = copy };
        }
        if (h->recorded < l->burst) {
                h->recorded++;
                return 1;
        }
        h->suppressed++;
        return 0;
}

void flood_summaries_free(FloodSummary *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(s[i].host);
        free(s);
}

int flood_end_period(FloodLimiter *l, FloodSummary **ret, size_t *ret_n) {
        FloodSummary *s = NULL;
        size_t n = 0;

        s = calloc(l->n_hosts + 1, sizeof(FloodSummary));
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_hosts; i++)
                if (l->hosts[i].suppressed > 0) {
                        s[n++] = (FloodSummary) { .host = TAKE_PTR(l->hosts[i].host),
                                                  .suppressed = l->hosts[i].suppressed };
                }
        if (l->other_suppressed > 0)
                s[n++] = (FloodSummary) { .suppressed = l->other_suppressed };
        flood_limiter_done(l);
        if (n == 0)
                s = mfree(s);
        *ret = s;
        *ret_n = n;
        return 0;
}
