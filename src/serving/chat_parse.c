/*
 * chat_parse.c — compiles the Jinja2 subset of chat templates (chat.h) into
 * the statement and expression trees of chat_int.h.
 *
 * Two passes. The first cuts the source into text and tags ({{ }}, {% %},
 * {# #}) and applies the whitespace rules of Hugging Face's environment:
 * trim_blocks (the newline right after a block or comment tag goes),
 * lstrip_blocks (spaces and tabs between a line's start and a block or
 * comment tag go), and the '-' / '+' modifiers; the source's newlines are
 * "\n" and one trailing newline is dropped first, as Jinja2 does. The second
 * parses tags by recursive descent with Jinja2's operator precedence
 * (or < and < not < comparisons < + - < ~ < * // % < unary < postfix and
 * filters). Everything outside the subset is refused with the construct
 * named; the template is small and compiled once, so clarity wins over speed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"

enum { SEG_TEXT, SEG_VAR, SEG_BLOCK, SEG_COMMENT };

typedef struct seg {
    int kind;
    size_t a, b; /* text range, or the tag's inner range */
    size_t off;  /* offset of the tag's "{" (or the text) */
} seg;

enum { T_END, T_NAME, T_INT, T_STR, T_OP };

typedef struct parser {
    ns_chat_tmpl *t;
    const char *src;
    size_t len;
    seg *segs;
    size_t nseg, si;
    /* the tag being parsed and the current token */
    size_t p, end;
    int tk;
    int op;          /* T_OP: one char, or '=' '!' 'l' 'g' '/' 'P' for == != <= >= // ** and 'a' for = */
    size_t ts, tn;   /* token text */
    int64_t ival;
    char *sval;      /* T_STR, unescaped (arena) */
    size_t slen;
    int depth;
} parser;

static int unsupported(const parser *P, size_t off, const char *what, size_t n)
{
    (void)P;
    return ns_err_set(NS_EUNSUPPORTED, "chat template: unsupported construct '%.*s' at offset %zu", (int)n, what, off);
}
static int bad(const parser *P, size_t off, const char *msg)
{
    (void)P;
    return ns_err_set(NS_EFORMAT, "chat template: %s at offset %zu", msg, off);
}

/* ---- pass 1: text and tags ---- */

static int push_seg(parser *P, size_t *cap, int kind, size_t a, size_t b, size_t off)
{
    if (P->nseg == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        seg *s = ns_realloc(P->segs, nc * sizeof *s);
        if (!s) return NS_ENOMEM;
        P->segs = s;
        *cap = nc;
    }
    P->segs[P->nseg++] = (seg){kind, a, b, off};
    return NS_OK;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int split(parser *P)
{
    const char *s = P->src;
    size_t n = P->len, pos = 0, cap = 0;
    int prev_strip = 0, prev_trim = 0;
    for (;;) {
        size_t t = pos;
        while (t + 1 < n && !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#'))) t++;
        if (t + 1 >= n) t = n;
        size_t a = pos, b = t;
        if (prev_strip)
            while (a < b && is_ws(s[a])) a++;
        else if (prev_trim && a < b && s[a] == '\n')
            a++;
        if (t == n) {
            if (a < b && push_seg(P, &cap, SEG_TEXT, a, b, a) < 0) return NS_ENOMEM;
            return NS_OK;
        }
        int kind = s[t + 1] == '{' ? SEG_VAR : s[t + 1] == '%' ? SEG_BLOCK : SEG_COMMENT;
        char lmod = t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+') ? s[t + 2] : 0;
        if (lmod == '-') {
            while (b > a && is_ws(s[b - 1])) b--;
        } else if (kind != SEG_VAR && lmod != '+') { /* lstrip_blocks */
            size_t w = b;
            while (w > a && (s[w - 1] == ' ' || s[w - 1] == '\t')) w--;
            if (w == 0 || s[w - 1] == '\n') b = w;
        }
        if (a < b && push_seg(P, &cap, SEG_TEXT, a, b, a) < 0) return NS_ENOMEM;
        size_t in = t + 2 + (lmod ? 1 : 0), e = in;
        char close = kind == SEG_VAR ? '}' : kind == SEG_BLOCK ? '%' : '#';
        for (;;) {
            if (e + 1 >= n) {
                const char *what = kind == SEG_VAR ? "unclosed '{{'" : kind == SEG_BLOCK ? "unclosed '{%'" : "unclosed '{#'";
                return bad(P, t, what);
            }
            if (kind != SEG_COMMENT && (s[e] == '\'' || s[e] == '"')) {
                char q = s[e++];
                while (e < n && s[e] != q) e += s[e] == '\\' && e + 1 < n ? 2 : 1;
                if (e >= n) return bad(P, t, "unterminated string in a tag");
                e++;
                continue;
            }
            if (s[e] == close && s[e + 1] == '}') break;
            e++;
        }
        char rmod = e > in && (s[e - 1] == '-' || s[e - 1] == '+') ? s[e - 1] : 0;
        if (kind == SEG_VAR && rmod == '+') rmod = 0; /* '+}}' is no modifier: left for the parser to refuse */
        if (push_seg(P, &cap, kind, in, rmod ? e - 1 : e, t) < 0) return NS_ENOMEM;
        prev_strip = rmod == '-';
        prev_trim = kind != SEG_VAR && rmod != '+';
        pos = e + 2;
    }
}

/* ---- tokens inside a tag ---- */

static int put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 63)); o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 63));
    o[2] = (char)(0x80 | ((c >> 6) & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal at s[a..b) (quotes excluded) with Python's escapes;
 * unknown escapes stay as written, as Python's unicode-escape leaves them. */
static int unescape(parser *P, size_t a, size_t b, size_t off)
{
    const char *s = P->src;
    char *o = ns_arena_alloc(&P->t->arena, (b - a) + 1, 1);
    if (!o) return NS_ENOMEM;
    size_t k = 0;
    for (size_t i = a; i < b;) {
        if (s[i] != '\\' || i + 1 >= b) {
            o[k++] = s[i++];
            continue;
        }
        char c = s[i + 1];
        const char *simple = strchr("ntr\\'\"abfv\n", c);
        if (simple && c) {
            static const char to[] = "\n\t\r\\'\"\a\b\f\v";
            if (c != '\n') o[k++] = to[simple - "ntr\\'\"abfv\n"];
            i += 2;
        } else if (c == 'x' || c == 'u' || c == 'U') {
            int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t v = 0;
            if (i + 2 + (size_t)nd > b) return bad(P, off, "truncated \\x/\\u escape in a string");
            for (int d = 0; d < nd; d++) {
                int h = hexval(s[i + 2 + d]);
                if (h < 0) return bad(P, off, "bad \\x/\\u escape in a string");
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return bad(P, off, "escape is not a Unicode scalar value");
            if (v == 0) return unsupported(P, off, "NUL character in a string", 25);
            k += (size_t)put_utf8(o + k, v); /* at most 4 bytes for 4..10 source bytes */
            i += 2 + (size_t)nd;
        } else if (c >= '0' && c <= '7') {
            uint32_t v = 0;
            size_t j = i + 1;
            for (int d = 0; d < 3 && j < b && s[j] >= '0' && s[j] <= '7'; d++, j++) v = v * 8 + (uint32_t)(s[j] - '0');
            if (v == 0) return unsupported(P, off, "NUL character in a string", 25);
            k += (size_t)put_utf8(o + k, v); /* v < 512: at most 2 bytes for >= 2 source bytes */
            i = j;
        } else {
            o[k++] = s[i++];
        }
    }
    o[k] = 0;
    P->sval = o;
    P->slen = k;
    return NS_OK;
}

static int next(parser *P)
{
    const char *s = P->src;
    while (P->p < P->end && is_ws(s[P->p])) P->p++;
    P->ts = P->p;
    if (P->p >= P->end) {
        P->tk = T_END;
        P->tn = 0;
        return NS_OK;
    }
    char c = s[P->p];
    if (isalpha((unsigned char)c) || c == '_') {
        size_t e = P->p;
        while (e < P->end && (isalnum((unsigned char)s[e]) || s[e] == '_')) e++;
        P->tk = T_NAME;
        P->tn = e - P->p;
        P->p = e;
        return NS_OK;
    }
    if (isdigit((unsigned char)c)) {
        size_t e = P->p;
        int64_t v = 0;
        while (e < P->end && (isdigit((unsigned char)s[e]) || s[e] == '_')) {
            if (s[e] != '_') {
                if (v > (INT64_MAX - (s[e] - '0')) / 10) return bad(P, P->p, "integer literal too large");
                v = v * 10 + (s[e] - '0');
            }
            e++;
        }
        if (e < P->end && (s[e] == '.' || s[e] == 'e' || s[e] == 'E') && e + 1 < P->end &&
            (isdigit((unsigned char)s[e + 1]) || s[e] != '.'))
            return unsupported(P, P->p, "float literal", 13);
        P->tk = T_INT;
        P->ival = v;
        P->tn = e - P->p;
        P->p = e;
        return NS_OK;
    }
    if (c == '\'' || c == '"') {
        size_t e = P->p + 1;
        while (e < P->end && s[e] != c) e += s[e] == '\\' ? 2 : 1;
        if (e >= P->end) return bad(P, P->p, "unterminated string");
        int rc = unescape(P, P->p + 1, e, P->p);
        if (rc < 0) return rc;
        P->tk = T_STR;
        P->tn = e + 1 - P->p;
        P->p = e + 1;
        return NS_OK;
    }
    static const struct { const char *s; int op; } two[] = {
        {"==", '='}, {"!=", '!'}, {"<=", 'l'}, {">=", 'g'}, {"//", '/'}, {"**", 'P'}};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        if (P->p + 1 < P->end && s[P->p] == two[i].s[0] && s[P->p + 1] == two[i].s[1]) {
            P->tk = T_OP;
            P->op = two[i].op;
            P->tn = 2;
            P->p += 2;
            return NS_OK;
        }
    if (strchr("+-*/%~<>()[].,|:={}", c)) {
        P->tk = T_OP;
        P->op = c == '=' ? 'a' : c;
        P->tn = 1;
        P->p++;
        return NS_OK;
    }
    return bad(P, P->p, "unexpected character in a tag");
}

static int is_name(const parser *P, const char *w)
{
    return P->tk == T_NAME && P->tn == strlen(w) && !memcmp(P->src + P->ts, w, P->tn);
}
static int is_op(const parser *P, int op) { return P->tk == T_OP && P->op == op; }

static int expect_op(parser *P, int op, const char *msg)
{
    if (!is_op(P, op)) return bad(P, P->ts, msg);
    return next(P);
}

/* ---- expressions ---- */

static ns__chat_expr *mk(parser *P, int kind, size_t off)
{
    ns__chat_expr *e = ns_arena_calloc(&P->t->arena, 1, sizeof *e);
    if (e) {
        e->kind = kind;
        e->off = off;
    }
    return e;
}

static int parse_expr(parser *P, ns__chat_expr **out);
static int parse_or(parser *P, ns__chat_expr **out);
static int parse_unary(parser *P, ns__chat_expr **out, int with_filter);

#define TRY(x)                                                                 \
    do {                                                                       \
        int rc_ = (x);                                                         \
        if (rc_ < 0) return rc_;                                               \
    } while (0)
#define NEW(var, kind, off)                                                    \
    do {                                                                       \
        if (!((var) = mk(P, (kind), (off)))) return NS_ENOMEM;                 \
    } while (0)

static int in_list(const parser *P, const char *const *names)
{
    for (; *names; names++)
        if (is_name(P, *names)) return 1;
    return 0;
}

static int parse_primary(parser *P, ns__chat_expr **out)
{
    ns__chat_expr *e;
    size_t off = P->ts;
    if (P->tk == T_NAME) {
        if (is_name(P, "true") || is_name(P, "True") || is_name(P, "false") || is_name(P, "False")) {
            NEW(e, NS__E_BOOL, off);
            e->i = P->src[P->ts] == 't' || P->src[P->ts] == 'T';
        } else if (is_name(P, "none") || is_name(P, "None")) {
            NEW(e, NS__E_NONE, off);
        } else {
            NEW(e, NS__E_NAME, off);
            e->s = P->src + P->ts;
            e->n = P->tn;
        }
        *out = e;
        return next(P);
    }
    if (P->tk == T_INT) {
        NEW(e, NS__E_INT, off);
        e->i = P->ival;
        *out = e;
        return next(P);
    }
    if (P->tk == T_STR) {
        NEW(e, NS__E_STR, off);
        e->s = P->sval;
        e->n = P->slen;
        TRY(next(P));
        while (P->tk == T_STR) { /* adjacent literals concatenate */
            char *c = ns_arena_alloc(&P->t->arena, e->n + P->slen + 1, 1);
            if (!c) return NS_ENOMEM;
            memcpy(c, e->s, e->n);
            memcpy(c + e->n, P->sval, P->slen + 1);
            e->s = c;
            e->n += P->slen;
            TRY(next(P));
        }
        *out = e;
        return NS_OK;
    }
    if (is_op(P, '(')) {
        TRY(next(P));
        TRY(parse_expr(P, out));
        if (is_op(P, ',')) return unsupported(P, P->ts, "tuple", 5);
        return expect_op(P, ')', "expected ')'");
    }
    if (is_op(P, '[')) return unsupported(P, off, "list literal", 12);
    if (is_op(P, '{')) return unsupported(P, off, "dict literal", 12);
    if (P->tk == T_END) return bad(P, off, "expected an expression");
    return bad(P, off, "unexpected token in an expression");
}

static int parse_postfix(parser *P, ns__chat_expr **node)
{
    static const char *const methods0[] = {"strip", "lstrip", "rstrip", "upper", "lower", NULL};
    static const char *const methods1[] = {"startswith", "endswith", NULL};
    for (;;) {
        ns__chat_expr *e;
        size_t off = P->ts;
        if (is_op(P, '.')) {
            TRY(next(P));
            if (P->tk != T_NAME && P->tk != T_INT) return bad(P, P->ts, "expected an attribute name after '.'");
            if (P->tk == T_INT) { /* x.0 is x[0] in Jinja2 */
                NEW(e, NS__E_INDEX, off);
                e->a = *node;
                NEW(e->b, NS__E_INT, P->ts);
                e->b->i = P->ival;
                TRY(next(P));
                *node = e;
                continue;
            }
            const char *name = P->src + P->ts;
            size_t nl = P->tn;
            int m0 = in_list(P, methods0), m1 = in_list(P, methods1);
            TRY(next(P));
            if (is_op(P, '(')) {
                if (!m0 && !m1) return unsupported(P, off + 1, name, nl);
                NEW(e, NS__E_METHOD, off);
                e->a = *node;
                e->s = name;
                e->n = nl;
                TRY(next(P));
                if (m1) {
                    TRY(parse_expr(P, &e->b));
                    if (is_op(P, ',')) return unsupported(P, P->ts, "method arguments", 16);
                } else if (!is_op(P, ')')) {
                    return unsupported(P, P->ts, "method arguments", 16);
                }
                TRY(expect_op(P, ')', "expected ')'"));
            } else {
                NEW(e, NS__E_ATTR, off);
                e->a = *node;
                e->s = name;
                e->n = nl;
            }
            *node = e;
        } else if (is_op(P, '[')) {
            TRY(next(P));
            ns__chat_expr *lo = NULL, *hi = NULL;
            if (!is_op(P, ':')) TRY(parse_expr(P, &lo));
            if (is_op(P, ':')) {
                TRY(next(P));
                if (!is_op(P, ']') && !is_op(P, ':')) TRY(parse_expr(P, &hi));
                if (is_op(P, ':')) return unsupported(P, P->ts, "slice step", 10);
                NEW(e, NS__E_SLICE, off);
                e->b = lo;
                e->c = hi;
            } else {
                if (is_op(P, ',')) return unsupported(P, P->ts, "tuple", 5);
                NEW(e, NS__E_INDEX, off);
                e->b = lo;
            }
            e->a = *node;
            TRY(expect_op(P, ']', "expected ']'"));
            *node = e;
        } else if (is_op(P, '(')) {
            ns__chat_expr *f = *node;
            if (f->kind != NS__E_NAME) return unsupported(P, off, "call", 4);
            if (f->n != 15 || memcmp(f->s, "raise_exception", 15)) return unsupported(P, f->off, f->s, f->n);
            TRY(next(P));
            NEW(e, NS__E_RAISE, f->off);
            TRY(parse_expr(P, &e->a));
            if (is_op(P, ',')) return unsupported(P, P->ts, "raise_exception with several arguments", 38);
            TRY(expect_op(P, ')', "expected ')'"));
            *node = e;
        } else {
            return NS_OK;
        }
    }
}

static int parse_filters(parser *P, ns__chat_expr **node)
{
    static const char *const filters[] = {"trim", "length", "upper", "lower", NULL};
    static const char *const tests[] = {"defined", "undefined", "none", "string", "number", NULL};
    for (;;) {
        ns__chat_expr *e;
        size_t off = P->ts;
        if (is_op(P, '|')) {
            TRY(next(P));
            if (P->tk != T_NAME) return bad(P, P->ts, "expected a filter name after '|'");
            if (!in_list(P, filters)) return unsupported(P, P->ts, P->src + P->ts, P->tn);
            NEW(e, NS__E_FILTER, off);
            e->a = *node;
            e->s = P->src + P->ts;
            e->n = P->tn;
            TRY(next(P));
            if (is_op(P, '(')) return unsupported(P, P->ts, "filter arguments", 16);
            *node = e;
        } else if (is_name(P, "is")) {
            TRY(next(P));
            NEW(e, NS__E_TEST, off);
            if (is_name(P, "not")) {
                e->i = 1;
                TRY(next(P));
            }
            if (P->tk != T_NAME) return bad(P, P->ts, "expected a test name after 'is'");
            if (!in_list(P, tests)) return unsupported(P, P->ts, P->src + P->ts, P->tn);
            e->a = *node;
            e->s = P->src + P->ts;
            e->n = P->tn;
            TRY(next(P));
            if (is_op(P, '(') || P->tk == T_STR || P->tk == T_INT) return unsupported(P, P->ts, "test arguments", 14);
            *node = e;
        } else if (is_op(P, '(')) {
            return unsupported(P, off, "call", 4);
        } else {
            return NS_OK;
        }
    }
}

static int parse_unary(parser *P, ns__chat_expr **out, int with_filter)
{
    if (++P->depth > NS__CHAT_MAX_DEPTH) return ns_err_set(NS_ETOOBIG, "chat template: expression nested deeper than %d at offset %zu", NS__CHAT_MAX_DEPTH, P->ts);
    size_t off = P->ts;
    if (is_op(P, '-') || is_op(P, '+')) {
        int neg = is_op(P, '-');
        TRY(next(P));
        ns__chat_expr *a;
        TRY(parse_unary(P, &a, 0));
        if (neg) {
            ns__chat_expr *e;
            NEW(e, NS__E_NEG, off);
            e->a = a;
            a = e;
        }
        *out = a;
    } else {
        TRY(parse_primary(P, out));
    }
    TRY(parse_postfix(P, out));
    if (with_filter) TRY(parse_filters(P, out));
    P->depth--;
    return NS_OK;
}

static int binary(parser *P, ns__chat_expr **l, int op, size_t off, ns__chat_expr *r)
{
    ns__chat_expr *e;
    NEW(e, NS__E_BIN, off);
    e->op = op;
    e->a = *l;
    e->b = r;
    *l = e;
    return NS_OK;
}

static int parse_math2(parser *P, ns__chat_expr **out)
{
    TRY(parse_unary(P, out, 1));
    if (is_op(P, 'P')) return unsupported(P, P->ts, "**", 2);
    while (is_op(P, '*') || is_op(P, '/') || is_op(P, '%')) {
        if (P->tn == 1 && P->op == '/') return unsupported(P, P->ts, "/ (true division)", 17);
        int op = P->op;
        size_t off = P->ts;
        TRY(next(P));
        ns__chat_expr *r;
        TRY(parse_unary(P, &r, 1));
        if (is_op(P, 'P')) return unsupported(P, P->ts, "**", 2);
        TRY(binary(P, out, op, off, r));
    }
    return NS_OK;
}

static int parse_concat(parser *P, ns__chat_expr **out)
{
    TRY(parse_math2(P, out));
    while (is_op(P, '~')) {
        size_t off = P->ts;
        TRY(next(P));
        ns__chat_expr *r;
        TRY(parse_math2(P, &r));
        TRY(binary(P, out, '~', off, r));
    }
    return NS_OK;
}

static int parse_math1(parser *P, ns__chat_expr **out)
{
    TRY(parse_concat(P, out));
    while (is_op(P, '+') || is_op(P, '-')) {
        int op = P->op;
        size_t off = P->ts;
        TRY(next(P));
        ns__chat_expr *r;
        TRY(parse_concat(P, &r));
        TRY(binary(P, out, op, off, r));
    }
    return NS_OK;
}

static int parse_compare(parser *P, ns__chat_expr **out)
{
    TRY(parse_math1(P, out));
    int n = 0;
    for (;; n++) {
        size_t off = P->ts;
        int op = 0, neg_in = -1;
        if (is_op(P, '=') || is_op(P, '!') || is_op(P, '<') || is_op(P, '>') || is_op(P, 'l') || is_op(P, 'g')) {
            op = P->op;
            TRY(next(P));
        } else if (is_name(P, "in")) {
            neg_in = 0;
            TRY(next(P));
        } else if (is_name(P, "not")) {
            /* "not in": look one token ahead */
            size_t save = P->p;
            TRY(next(P));
            if (!is_name(P, "in")) {
                P->p = save;
                P->ts = off;
                return bad(P, off, "expected 'in' after 'not'");
            }
            neg_in = 1;
            TRY(next(P));
        } else {
            return NS_OK;
        }
        if (n) return unsupported(P, off, "chained comparison", 18);
        ns__chat_expr *r;
        TRY(parse_math1(P, &r));
        if (neg_in >= 0) {
            ns__chat_expr *e;
            NEW(e, NS__E_IN, off);
            e->a = *out;
            e->b = r;
            e->i = neg_in;
            *out = e;
        } else {
            TRY(binary(P, out, op, off, r));
        }
    }
}

static int parse_not(parser *P, ns__chat_expr **out)
{
    if (is_name(P, "not")) {
        if (++P->depth > NS__CHAT_MAX_DEPTH) return ns_err_set(NS_ETOOBIG, "chat template: expression nested deeper than %d at offset %zu", NS__CHAT_MAX_DEPTH, P->ts);
        ns__chat_expr *e;
        NEW(e, NS__E_NOT, P->ts);
        TRY(next(P));
        TRY(parse_not(P, &e->a));
        P->depth--;
        *out = e;
        return NS_OK;
    }
    return parse_compare(P, out);
}

static int parse_and(parser *P, ns__chat_expr **out)
{
    TRY(parse_not(P, out));
    while (is_name(P, "and")) {
        ns__chat_expr *e;
        NEW(e, NS__E_AND, P->ts);
        TRY(next(P));
        e->a = *out;
        TRY(parse_not(P, &e->b));
        *out = e;
    }
    return NS_OK;
}

static int parse_or(parser *P, ns__chat_expr **out)
{
    TRY(parse_and(P, out));
    while (is_name(P, "or")) {
        ns__chat_expr *e;
        NEW(e, NS__E_OR, P->ts);
        TRY(next(P));
        e->a = *out;
        TRY(parse_and(P, &e->b));
        *out = e;
    }
    return NS_OK;
}

static int parse_expr(parser *P, ns__chat_expr **out)
{
    if (++P->depth > NS__CHAT_MAX_DEPTH) return ns_err_set(NS_ETOOBIG, "chat template: expression nested deeper than %d at offset %zu", NS__CHAT_MAX_DEPTH, P->ts);
    TRY(parse_or(P, out));
    while (is_name(P, "if")) {
        ns__chat_expr *e;
        NEW(e, NS__E_COND, P->ts);
        TRY(next(P));
        e->a = *out;
        TRY(parse_or(P, &e->b));
        if (is_name(P, "else")) {
            TRY(next(P));
            TRY(parse_expr(P, &e->c));
        }
        *out = e;
    }
    P->depth--;
    return NS_OK;
}

/* The whole tag must be one expression. */
static int tag_expr(parser *P, ns__chat_expr **out)
{
    TRY(parse_expr(P, out));
    if (P->tk != T_END) {
        if (is_op(P, ',')) return unsupported(P, P->ts, "tuple", 5);
        return bad(P, P->ts, "unexpected text after the expression");
    }
    return NS_OK;
}

/* ---- statements ---- */

static int open_tag(parser *P, const seg *s)
{
    P->p = s->a;
    P->end = s->b;
    return next(P);
}

static int parse_body(parser *P, ns__chat_node **out, const char *const *stops, int *stopped, int depth);

static int parse_if(parser *P, ns__chat_node *n, int depth)
{
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    TRY(tag_expr(P, &n->e));
    int which;
    TRY(parse_body(P, &n->body, stops, &which, depth));
    if (which == 0) { /* elif: a nested if in the else branch */
        ns__chat_node *e = ns_arena_calloc(&P->t->arena, 1, sizeof *e);
        if (!e) return NS_ENOMEM;
        e->kind = NS__S_IF;
        e->off = P->segs[P->si - 1].off;
        n->alt = e;
        return parse_if(P, e, depth);
    }
    if (which == 1) {
        static const char *const end[] = {"endif", NULL};
        if (P->tk != T_END) return bad(P, P->ts, "unexpected text after 'else'");
        TRY(parse_body(P, &n->alt, end, &which, depth));
    }
    if (P->tk != T_END) return bad(P, P->ts, "unexpected text after 'endif'");
    return NS_OK;
}

static int parse_stmt(parser *P, const seg *s, ns__chat_node *n, int depth)
{
    size_t off = P->ts;
    if (P->tk != T_NAME) return bad(P, off, "expected a statement name after '{%'");
    if (is_name(P, "if")) {
        n->kind = NS__S_IF;
        TRY(next(P));
        return parse_if(P, n, depth);
    }
    if (is_name(P, "for")) {
        static const char *const stops[] = {"else", "endfor", NULL};
        n->kind = NS__S_FOR;
        TRY(next(P));
        if (P->tk != T_NAME) return bad(P, P->ts, "expected a variable after 'for'");
        n->s = P->src + P->ts;
        n->n = P->tn;
        TRY(next(P));
        if (is_op(P, ',')) return unsupported(P, P->ts, "for with several variables", 26);
        if (!is_name(P, "in")) return bad(P, P->ts, "expected 'in' in a for tag");
        TRY(next(P));
        TRY(parse_or(P, &n->e));
        if (is_name(P, "if")) return unsupported(P, P->ts, "for ... if", 10);
        if (is_name(P, "recursive")) return unsupported(P, P->ts, "recursive", 9);
        if (P->tk != T_END) return bad(P, P->ts, "unexpected text in a for tag");
        int which;
        TRY(parse_body(P, &n->body, stops, &which, depth));
        if (which == 0) return unsupported(P, P->segs[P->si - 1].off, "for ... else", 12);
        if (P->tk != T_END) return bad(P, P->ts, "unexpected text after 'endfor'");
        return NS_OK;
    }
    if (is_name(P, "set")) {
        n->kind = NS__S_SET;
        TRY(next(P));
        if (P->tk != T_NAME) return bad(P, P->ts, "expected a variable after 'set'");
        n->s = P->src + P->ts;
        n->n = P->tn;
        TRY(next(P));
        if (is_op(P, '.')) return unsupported(P, P->ts, "set of an attribute", 19);
        if (is_op(P, ',')) return unsupported(P, P->ts, "set of several variables", 24);
        if (P->tk == T_END) return unsupported(P, off, "block set", 9);
        TRY(expect_op(P, 'a', "expected '=' in a set tag"));
        return tag_expr(P, &n->e);
    }
    (void)s;
    static const char *const known_ends[] = {"endif", "endfor", "elif", "else", NULL};
    if (in_list(P, known_ends)) return bad(P, off, "unexpected end tag");
    return unsupported(P, off, P->src + P->ts, P->tn);
}

/* Nodes until a block tag whose first word is one of stops (NULL stops = end
 * of the template); *stopped = its index, with the parser left on the word
 * after it. */
static int parse_body(parser *P, ns__chat_node **out, const char *const *stops, int *stopped, int depth)
{
    if (depth >= NS__CHAT_MAX_DEPTH) return ns_err_set(NS_ETOOBIG, "chat template: tags nested deeper than %d at offset %zu", NS__CHAT_MAX_DEPTH, P->si < P->nseg ? P->segs[P->si].off : P->len);
    size_t open_off = P->si ? P->segs[P->si - 1].off : 0;
    ns__chat_node **tail = out;
    *out = NULL;
    while (P->si < P->nseg) {
        const seg *s = &P->segs[P->si++];
        if (s->kind == SEG_COMMENT) continue;
        ns__chat_node *n = ns_arena_calloc(&P->t->arena, 1, sizeof *n);
        if (!n) return NS_ENOMEM;
        n->off = s->off;
        if (s->kind == SEG_TEXT) {
            n->kind = NS__S_TEXT;
            n->s = P->src + s->a;
            n->n = s->b - s->a;
        } else if (s->kind == SEG_VAR) {
            n->kind = NS__S_OUT;
            TRY(open_tag(P, s));
            TRY(tag_expr(P, &n->e));
        } else {
            TRY(open_tag(P, s));
            for (int k = 0; stops && stops[k]; k++)
                if (is_name(P, stops[k])) {
                    *stopped = k;
                    return next(P);
                }
            TRY(parse_stmt(P, s, n, depth + 1));
        }
        *tail = n;
        tail = &n->next;
    }
    if (stops) {
        char msg[96];
        int last = 0;
        while (stops[last + 1]) last++;
        snprintf(msg, sizeof msg, "unclosed block: no '{%% %s %%}' for the tag", stops[last]);
        return bad(P, open_off, msg);
    }
    return NS_OK;
}

int ns__chat_parse(ns_chat_tmpl *t, const char *src)
{
    size_t n = strlen(src);
    char *s = ns_arena_alloc(&t->arena, n + 1, 1);
    if (!s) return NS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* newlines to "\n", as Jinja2's lexer */
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            s[k++] = src[i];
        }
    }
    if (k && s[k - 1] == '\n') k--; /* keep_trailing_newline=False */
    s[k] = 0;
    parser P = {.t = t, .src = s, .len = k};
    int rc = split(&P);
    if (rc >= 0) rc = parse_body(&P, &t->root, NULL, NULL, 0);
    free(P.segs);
    return rc;
}
