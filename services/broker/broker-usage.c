/* SPDX-License-Identifier: Apache-2.0 */
#include "broker-usage.h"
#include "json-scan.h"

/* Of a key written twice the last one counts, as in json-c (which the broker used to parse answers
 * with): a backend's answer means the same to the broker as to any client using json-c. */
static int usage_take(const char *p, const char *end, TokenUsage *u) {
        static const char *const keys[] = { "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens" };
        JsonMember m, last[ELEMENTSOF(keys)] = {};
        int r;

        for (bool first = true; (r = json_next_member(&p, end, first, &m)) > 0; first = false)
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (json_key_is(&m, keys[i]))
                                last[i] = m;
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                int64_t v;

                if (!last[i].value || !json_integer(last[i].value, last[i].value_end, &v))
                        continue;
                if (i < 2)
                        u->in = MAX(u->in, v);
                else
                        u->out = MAX(u->out, v);
        }
        return 0;
}

/* "usage" of the object at p, also nested in "response" (Responses API events) or "message"
 * (Anthropic message_start) when nested is true. */
static int usage_scan(const char *p, const char *end, bool nested, TokenUsage *u) {
        static const char *const holders[] = { "response", "message" };
        JsonMember m, usage = {}, held[ELEMENTSOF(holders)] = {};
        int r;

        for (bool first = true; (r = json_next_member(&p, end, first, &m)) > 0; first = false) {
                if (json_key_is(&m, "usage"))
                        usage = m;
                for (size_t i = 0; nested && i < ELEMENTSOF(holders); i++)
                        if (json_key_is(&m, holders[i]))
                                held[i] = m;
        }
        if (r < 0)
                return r;
        if (json_skip_space(p, end) != end)
                return -EBADMSG;
        if (usage.value && *usage.value == '{')
                (void) usage_take(usage.value, usage.value_end, u);
        for (size_t i = 0; i < ELEMENTSOF(holders); i++)
                if (held[i].value && *held[i].value == '{')
                        (void) usage_scan(held[i].value, held[i].value_end, false, u);
        return 0;
}

int usage_parse_json(const char *data, size_t size, TokenUsage *u) {
        return usage_scan(data, data + size, true, u);
}

void sse_scanner_init(SseScanner *s) {
        *s = (SseScanner) { .line = BUF_INIT(SSE_LINE_MAX), .usage = TOKEN_USAGE_UNKNOWN };
}

void sse_scanner_done(SseScanner *s) {
        buf_done(&s->line);
}

static void sse_line(SseScanner *s) {
        const char *l = s->line.data;
        size_t n = s->line.size;

        if (n > 0 && l[n - 1] == '\r')
                n--;
        if (n < 5 || !strneq(l, "data:", 5))
                return;
        l += 5, n -= 5;
        if (n > 0 && l[0] == ' ')
                l++, n--;
        /* Only chunks that can carry a count are parsed. */
        if (!memmem(l, n, "\"usage\"", 7))
                return;
        (void) usage_parse_json(l, n, &s->usage);
}

void sse_scanner_feed(SseScanner *s, const char *data, size_t size) {
        while (size > 0) {
                const char *nl = memchr(data, '\n', size);
                size_t n = nl ? (size_t) (nl - data) : size;

                if (!s->skipping && buf_append(&s->line, data, n) < 0) {
                        s->skipping = true;
                        buf_clear(&s->line);
                }
                if (!nl)
                        return;
                if (!s->skipping)
                        sse_line(s);
                s->skipping = false;
                buf_clear(&s->line);
                data += n + 1;
                size -= n + 1;
        }
}
