/*
 * chat_render.c — renders a compiled chat template (chat_int.h) over a
 * conversation, with Jinja2's semantics for the subset chat.h lists:
 * Python truthiness and equality (True == 1, undefined == undefined),
 * Python's floor division and modulo, code-point indexing and slicing of
 * strings, undefined values that print as "" but fail when used as objects,
 * and a for body whose sets stay inside one iteration.
 *
 * Values are small structs; strings a render makes live in a per-render
 * arena. Lists are only ever lists of messages (messages and its slices),
 * held as arrays of message indices. Limits: chat_int.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"

enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_STR, V_LIST, V_MSG, V_LOOP };

typedef struct val {
    int k;
    int64_t i;         /* bool, int, message index, loop index0 */
    const char *s;     /* string bytes */
    size_t n;          /* string length, list count, loop length */
    const int *idx;    /* list: message indices */
} val;

typedef struct var {
    const char *name;
    size_t nl;
    val v;
} var;

typedef struct rctx {
    const ns_chat_msg *m;
    size_t *role_n, *content_n;
    ns_arena ar;
    ns_buf *out;
    size_t out0;
    long iters;
    int depth;         /* of expression evaluation */
    var *vars;
    size_t nvars, cap;
} rctx;

static int type_err(const ns__chat_expr *e, const char *msg)
{
    return ns_err_set(NS_EINVAL, "chat template: %s at offset %zu", msg, e->off);
}

static val mkstr(const char *s, size_t n) { return (val){.k = V_STR, .s = s, .n = n}; }

/* ---- variables ---- */

static int set_var(rctx *R, size_t base, const char *name, size_t nl, val v)
{
    for (size_t i = R->nvars; i-- > base;)
        if (R->vars[i].nl == nl && !memcmp(R->vars[i].name, name, nl)) {
            R->vars[i].v = v;
            return NS_OK;
        }
    if (R->nvars == R->cap) {
        size_t nc = R->cap ? R->cap * 2 : 16;
        var *nv = ns_realloc(R->vars, nc * sizeof *nv);
        if (!nv) return NS_ENOMEM;
        R->vars = nv;
        R->cap = nc;
    }
    R->vars[R->nvars++] = (var){name, nl, v};
    return NS_OK;
}

static val get_var(const rctx *R, const char *name, size_t nl)
{
    for (size_t i = R->nvars; i-- > 0;)
        if (R->vars[i].nl == nl && !memcmp(R->vars[i].name, name, nl)) return R->vars[i].v;
    return (val){.k = V_UNDEF};
}

/* ---- helpers ---- */

static int truthy(val v)
{
    switch (v.k) {
    case V_BOOL:
    case V_INT: return v.i != 0;
    case V_STR:
    case V_LIST: return v.n != 0;
    case V_MSG:
    case V_LOOP: return 1;
    default: return 0;
    }
}

static int equal(val a, val b)
{
    int an = a.k == V_INT || a.k == V_BOOL, bn = b.k == V_INT || b.k == V_BOOL;
    if (an || bn) return an && bn && a.i == b.i;
    if (a.k != b.k) return 0;
    switch (a.k) {
    case V_STR: return a.n == b.n && !memcmp(a.s, b.s, a.n);
    case V_LIST: return a.n == b.n && (!a.n || !memcmp(a.idx, b.idx, a.n * sizeof *a.idx));
    case V_MSG: return a.i == b.i;
    case V_LOOP: return a.i == b.i && a.n == b.n;
    default: return 1; /* none == none, undefined == undefined */
    }
}

/* Number of code points in s[0..n) (continuation bytes are not counted). */
static size_t cp_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}
/* Byte offset of code point k (k <= count). */
static size_t cp_offset(const char *s, size_t n, size_t k)
{
    size_t i = 0;
    for (; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && k-- == 0) break;
    return i;
}

static int64_t clamp_index(int64_t x, int64_t len)
{
    if (x < 0) x += len;
    return x < 0 ? 0 : x > len ? len : x;
}

static int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static val strip(val v, int left, int right)
{
    size_t a = 0, b = v.n;
    if (left)
        while (a < b && is_space(v.s[a])) a++;
    if (right)
        while (b > a && is_space(v.s[b - 1])) b--;
    return mkstr(v.s + a, b - a);
}

static int newstr(rctx *R, const ns__chat_expr *e, size_t n, char **out)
{
    if (n > NS__CHAT_MAX_OUT)
        return ns_err_set(NS_ETOOBIG, "chat template: a string of %zu bytes (limit %zu) at offset %zu", n, NS__CHAT_MAX_OUT, e->off);
    *out = ns_arena_alloc(&R->ar, n + 1, 1);
    return *out ? NS_OK : NS_ENOMEM;
}

/* The text of v as Jinja2 prints it; lists and objects are refused. */
static int to_text(rctx *R, const ns__chat_expr *e, val v, val *out)
{
    char *p = NULL;
    switch (v.k) {
    case V_STR: *out = v; return NS_OK;
    case V_UNDEF: *out = mkstr("", 0); return NS_OK;
    case V_NONE: *out = mkstr("None", 4); return NS_OK;
    case V_BOOL: *out = v.i ? mkstr("True", 4) : mkstr("False", 5); return NS_OK;
    case V_INT:
        if (newstr(R, e, 24, &p) < 0) return NS_ENOMEM;
        *out = mkstr(p, (size_t)snprintf(p, 24, "%" PRId64, v.i));
        return NS_OK;
    default:
        return ns_err_set(NS_EUNSUPPORTED, "chat template: cannot print a %s at offset %zu",
                          v.k == V_LIST ? "list" : v.k == V_MSG ? "message object" : "loop object", e->off);
    }
}

static int has_sub(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (!nn) return 1;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && !memcmp(h + i, nd, nn)) return 1;
    return 0;
}

static int name_is(const char *s, size_t n, const char *w) { return n == strlen(w) && !memcmp(s, w, n); }

static int eval(rctx *R, const ns__chat_expr *e, val *out);

static int member(rctx *R, const ns__chat_expr *e, val obj, const char *key, size_t kl, val *out)
{
    (void)R;
    *out = (val){.k = V_UNDEF};
    if (obj.k == V_UNDEF || obj.k == V_NONE) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s value has no attribute '%.*s'", obj.k == V_NONE ? "a none" : "an undefined",
                 (int)(kl > 64 ? 64 : kl), key);
        return type_err(e, msg);
    }
    if (obj.k == V_MSG) {
        const ns_chat_msg *m = &R->m[obj.i];
        if (name_is(key, kl, "role")) *out = mkstr(m->role, R->role_n[obj.i]);
        else if (name_is(key, kl, "content")) *out = mkstr(m->content, R->content_n[obj.i]);
    } else if (obj.k == V_LOOP) {
        int64_t i0 = obj.i, len = (int64_t)obj.n;
        if (name_is(key, kl, "index0")) *out = (val){.k = V_INT, .i = i0};
        else if (name_is(key, kl, "index")) *out = (val){.k = V_INT, .i = i0 + 1};
        else if (name_is(key, kl, "first")) *out = (val){.k = V_BOOL, .i = i0 == 0};
        else if (name_is(key, kl, "last")) *out = (val){.k = V_BOOL, .i = i0 == len - 1};
        else if (name_is(key, kl, "length")) *out = (val){.k = V_INT, .i = len};
        else if (name_is(key, kl, "revindex")) *out = (val){.k = V_INT, .i = len - i0};
        else if (name_is(key, kl, "revindex0")) *out = (val){.k = V_INT, .i = len - i0 - 1};
    }
    return NS_OK;
}

static int index_of(rctx *R, const ns__chat_expr *e, val obj, val key, val *out)
{
    if (key.k == V_STR) return member(R, e, obj, key.s, key.n, out);
    if (obj.k == V_UNDEF || obj.k == V_NONE) return type_err(e, "indexing an undefined or none value");
    *out = (val){.k = V_UNDEF};
    if (key.k != V_INT && key.k != V_BOOL) return NS_OK; /* Jinja2: an undefined result */
    int64_t i = key.i;
    if (obj.k == V_LIST) {
        if (i < 0) i += (int64_t)obj.n;
        if (i >= 0 && i < (int64_t)obj.n) *out = (val){.k = V_MSG, .i = obj.idx[i]};
    } else if (obj.k == V_STR) {
        int64_t len = (int64_t)cp_count(obj.s, obj.n);
        if (i < 0) i += len;
        if (i >= 0 && i < len) {
            size_t a = cp_offset(obj.s, obj.n, (size_t)i), b = cp_offset(obj.s, obj.n, (size_t)i + 1);
            *out = mkstr(obj.s + a, b - a);
        }
    }
    return NS_OK;
}

static int slice_of(rctx *R, const ns__chat_expr *e, val obj, val *out)
{
    int64_t bound[2];
    const ns__chat_expr *be[2] = {e->b, e->c};
    int64_t len = obj.k == V_LIST ? (int64_t)obj.n : obj.k == V_STR ? (int64_t)cp_count(obj.s, obj.n) : -1;
    if (len < 0) return type_err(e, "slicing a value that is not a list or a string");
    for (int k = 0; k < 2; k++) {
        bound[k] = k ? len : 0;
        if (!be[k]) continue;
        val v;
        int rc = eval(R, be[k], &v);
        if (rc < 0) return rc;
        if (v.k == V_NONE) continue;
        if (v.k != V_INT && v.k != V_BOOL) return type_err(be[k], "a slice bound that is not an integer");
        bound[k] = clamp_index(v.i, len);
    }
    if (bound[1] < bound[0]) bound[1] = bound[0];
    if (obj.k == V_LIST) {
        *out = (val){.k = V_LIST, .idx = obj.idx + bound[0], .n = (size_t)(bound[1] - bound[0])};
    } else {
        size_t a = cp_offset(obj.s, obj.n, (size_t)bound[0]), b = cp_offset(obj.s, obj.n, (size_t)bound[1]);
        *out = mkstr(obj.s + a, b - a);
    }
    return NS_OK;
}

static int case_map(rctx *R, const ns__chat_expr *e, val v, int upper, val *out)
{
    char *p = NULL;
    int rc = newstr(R, e, v.n, &p);
    if (rc < 0) return rc;
    for (size_t i = 0; i < v.n; i++) {
        char c = v.s[i];
        p[i] = upper ? (c >= 'a' && c <= 'z' ? (char)(c - 32) : c) : (c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
    }
    *out = mkstr(p, v.n);
    return NS_OK;
}

static int apply_filter(rctx *R, const ns__chat_expr *e, val v, val *out)
{
    if (name_is(e->s, e->n, "length")) {
        if (v.k == V_LIST) *out = (val){.k = V_INT, .i = (int64_t)v.n};
        else if (v.k == V_STR) *out = (val){.k = V_INT, .i = (int64_t)cp_count(v.s, v.n)};
        else if (v.k == V_UNDEF) *out = (val){.k = V_INT, .i = 0};
        else return type_err(e, "length of a value that is not a list or a string");
        return NS_OK;
    }
    val s;
    int rc = to_text(R, e, v, &s);
    if (rc < 0) return rc;
    if (name_is(e->s, e->n, "trim")) {
        *out = strip(s, 1, 1);
        return NS_OK;
    }
    return case_map(R, e, s, name_is(e->s, e->n, "upper"), out);
}

static int apply_method(rctx *R, const ns__chat_expr *e, val v, val *out)
{
    if (v.k != V_STR) {
        char msg[96];
        snprintf(msg, sizeof msg, "method '%.*s' of a value that is not a string", (int)e->n, e->s);
        return type_err(e, msg);
    }
    if (name_is(e->s, e->n, "strip")) *out = strip(v, 1, 1);
    else if (name_is(e->s, e->n, "lstrip")) *out = strip(v, 1, 0);
    else if (name_is(e->s, e->n, "rstrip")) *out = strip(v, 0, 1);
    else if (name_is(e->s, e->n, "upper") || name_is(e->s, e->n, "lower"))
        return case_map(R, e, v, name_is(e->s, e->n, "upper"), out);
    else {
        val arg;
        int rc = eval(R, e->b, &arg);
        if (rc < 0) return rc;
        if (arg.k != V_STR) return type_err(e, "startswith/endswith of a value that is not a string");
        int start = name_is(e->s, e->n, "startswith");
        int hit = arg.n <= v.n && !memcmp(start ? v.s : v.s + v.n - arg.n, arg.s, arg.n);
        *out = (val){.k = V_BOOL, .i = hit};
    }
    return NS_OK;
}

static int binop(rctx *R, const ns__chat_expr *e, val a, val b, val *out)
{
    int op = e->op;
    int an = a.k == V_INT || a.k == V_BOOL, bn = b.k == V_INT || b.k == V_BOOL;
    if (op == '=' || op == '!') {
        *out = (val){.k = V_BOOL, .i = equal(a, b) == (op == '=')};
        return NS_OK;
    }
    if (op == '~') {
        val sa, sb;
        int rc = to_text(R, e, a, &sa);
        if (rc >= 0) rc = to_text(R, e, b, &sb);
        if (rc < 0) return rc;
        a = sa;
        b = sb;
        op = '+';
        an = bn = 0;
    }
    if (op == '<' || op == '>' || op == 'l' || op == 'g') {
        int c;
        if (an && bn) c = a.i < b.i ? -1 : a.i > b.i;
        else if (a.k == V_STR && b.k == V_STR) {
            int m = memcmp(a.s, b.s, a.n < b.n ? a.n : b.n);
            c = m ? m : a.n < b.n ? -1 : a.n > b.n;
        } else
            return type_err(e, "ordering values that are not both numbers or both strings");
        int r = op == '<' ? c < 0 : op == '>' ? c > 0 : op == 'l' ? c <= 0 : c >= 0;
        *out = (val){.k = V_BOOL, .i = r};
        return NS_OK;
    }
    if (op == '+' && a.k == V_STR && b.k == V_STR) {
        char *p = NULL;
        int rc = newstr(R, e, a.n + b.n, &p);
        if (rc < 0) return rc;
        if (a.n) memcpy(p, a.s, a.n);
        if (b.n) memcpy(p + a.n, b.s, b.n);
        p[a.n + b.n] = 0;
        *out = mkstr(p, a.n + b.n);
        return NS_OK;
    }
    if (op == '+' && a.k == V_LIST && b.k == V_LIST) {
        int *ix = ns_arena_alloc(&R->ar, (a.n + b.n + 1) * sizeof *ix, 0);
        if (!ix) return NS_ENOMEM;
        if (a.n) memcpy(ix, a.idx, a.n * sizeof *ix);
        if (b.n) memcpy(ix + a.n, b.idx, b.n * sizeof *ix);
        *out = (val){.k = V_LIST, .idx = ix, .n = a.n + b.n};
        return NS_OK;
    }
    if (!an || !bn) {
        char msg[96];
        snprintf(msg, sizeof msg, "'%c' of values of different or unsupported types%s", op == '/' ? '/' : op,
                 a.k == V_UNDEF || b.k == V_UNDEF ? " (an undefined value)" : "");
        return type_err(e, msg);
    }
    int64_t x = a.i, y = b.i, r;
    switch (op) {
    case '+':
        if (__builtin_add_overflow(x, y, &r)) return type_err(e, "integer overflow");
        break;
    case '-':
        if (__builtin_sub_overflow(x, y, &r)) return type_err(e, "integer overflow");
        break;
    case '*':
        if (__builtin_mul_overflow(x, y, &r)) return type_err(e, "integer overflow");
        break;
    default: /* '/' (floor division) and '%', as Python */
        if (y == 0) return type_err(e, "division by zero");
        if (x == INT64_MIN && y == -1) return type_err(e, "integer overflow");
        {
            int64_t q = x / y, m = x % y;
            if (m && ((m < 0) != (y < 0))) {
                q--;
                m += y;
            }
            r = op == '%' ? m : q;
        }
    }
    *out = (val){.k = V_INT, .i = r};
    return NS_OK;
}

static int eval1(rctx *R, const ns__chat_expr *e, val *out);

/* Expression trees are as deep as the template makes them (a + a + ... is
 * a left-leaning chain): the depth of evaluation is bounded. */
static int eval(rctx *R, const ns__chat_expr *e, val *out)
{
    if (R->depth >= NS__CHAT_MAX_EVAL)
        return ns_err_set(NS_ETOOBIG, "chat template: expression more than %d deep at offset %zu", NS__CHAT_MAX_EVAL, e->off);
    R->depth++;
    int rc = eval1(R, e, out);
    R->depth--;
    return rc;
}

static int eval1(rctx *R, const ns__chat_expr *e, val *out)
{
    val a, b;
    int rc;
    switch (e->kind) {
    case NS__E_STR: *out = mkstr(e->s, e->n); return NS_OK;
    case NS__E_INT: *out = (val){.k = V_INT, .i = e->i}; return NS_OK;
    case NS__E_BOOL: *out = (val){.k = V_BOOL, .i = e->i}; return NS_OK;
    case NS__E_NONE: *out = (val){.k = V_NONE}; return NS_OK;
    case NS__E_NAME: *out = get_var(R, e->s, e->n); return NS_OK;
    case NS__E_ATTR:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        return member(R, e, a, e->s, e->n, out);
    case NS__E_INDEX:
        if ((rc = eval(R, e->a, &a)) < 0 || (rc = eval(R, e->b, &b)) < 0) return rc;
        return index_of(R, e, a, b, out);
    case NS__E_SLICE:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        return slice_of(R, e, a, out);
    case NS__E_METHOD:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        return apply_method(R, e, a, out);
    case NS__E_FILTER:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        return apply_filter(R, e, a, out);
    case NS__E_RAISE: {
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        if ((rc = to_text(R, e, a, &b)) < 0) return rc;
        return ns_err_set(NS_EINVAL, "chat template: %.*s", (int)(b.n > 400 ? 400 : b.n), b.s);
    }
    case NS__E_TEST: {
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        int r;
        if (name_is(e->s, e->n, "defined")) r = a.k != V_UNDEF;
        else if (name_is(e->s, e->n, "undefined")) r = a.k == V_UNDEF;
        else if (name_is(e->s, e->n, "none")) r = a.k == V_NONE;
        else if (name_is(e->s, e->n, "string")) r = a.k == V_STR;
        else r = a.k == V_INT || a.k == V_BOOL; /* number */
        *out = (val){.k = V_BOOL, .i = r != (int)e->i};
        return NS_OK;
    }
    case NS__E_BIN:
        if ((rc = eval(R, e->a, &a)) < 0 || (rc = eval(R, e->b, &b)) < 0) return rc;
        return binop(R, e, a, b, out);
    case NS__E_IN: {
        if ((rc = eval(R, e->a, &a)) < 0 || (rc = eval(R, e->b, &b)) < 0) return rc;
        int r = 0;
        if (b.k == V_STR) {
            if (a.k != V_STR) return type_err(e, "'in' a string needs a string on the left");
            r = has_sub(b.s, b.n, a.s, a.n);
        } else if (b.k == V_LIST) {
            for (size_t i = 0; i < b.n && !r; i++) r = equal(a, (val){.k = V_MSG, .i = b.idx[i]});
        } else {
            return type_err(e, "'in' a value that is not a string or a list");
        }
        *out = (val){.k = V_BOOL, .i = r != (int)e->i};
        return NS_OK;
    }
    case NS__E_NOT:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        *out = (val){.k = V_BOOL, .i = !truthy(a)};
        return NS_OK;
    case NS__E_NEG:
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        if (a.k != V_INT && a.k != V_BOOL) return type_err(e, "'-' of a value that is not a number");
        if (a.i == INT64_MIN) return type_err(e, "integer overflow");
        *out = (val){.k = V_INT, .i = -a.i};
        return NS_OK;
    case NS__E_AND:
    case NS__E_OR: /* Python: the deciding operand itself */
        if ((rc = eval(R, e->a, &a)) < 0) return rc;
        if (truthy(a) == (e->kind == NS__E_OR)) {
            *out = a;
            return NS_OK;
        }
        return eval(R, e->b, out);
    case NS__E_COND:
        if ((rc = eval(R, e->b, &b)) < 0) return rc;
        if (truthy(b)) return eval(R, e->a, out);
        if (e->c) return eval(R, e->c, out);
        *out = (val){.k = V_UNDEF};
        return NS_OK;
    }
    return ns_err_set(NS_EINTERNAL, "chat template: unknown expression kind %d", e->kind);
}

static int emit(rctx *R, size_t off, const char *s, size_t n)
{
    if (R->out->len - R->out0 + n > NS__CHAT_MAX_OUT)
        return ns_err_set(NS_ETOOBIG, "chat template: output over %zu bytes at offset %zu", NS__CHAT_MAX_OUT, off);
    return ns_buf_append(R->out, s, n);
}

static int run(rctx *R, const ns__chat_node *n, size_t scope)
{
    int rc;
    for (; n; n = n->next) {
        switch (n->kind) {
        case NS__S_TEXT:
            if ((rc = emit(R, n->off, n->s, n->n)) < 0) return rc;
            break;
        case NS__S_OUT: {
            val v, t;
            if ((rc = eval(R, n->e, &v)) < 0 || (rc = to_text(R, n->e, v, &t)) < 0) return rc;
            if ((rc = emit(R, n->off, t.s, t.n)) < 0) return rc;
            break;
        }
        case NS__S_SET: {
            val v;
            if ((rc = eval(R, n->e, &v)) < 0) return rc;
            if ((rc = set_var(R, scope, n->s, n->n, v)) < 0) return rc;
            break;
        }
        case NS__S_IF: {
            val c;
            if ((rc = eval(R, n->e, &c)) < 0) return rc;
            if ((rc = run(R, truthy(c) ? n->body : n->alt, scope)) < 0) return rc;
            break;
        }
        case NS__S_FOR: {
            val list;
            if ((rc = eval(R, n->e, &list)) < 0) return rc;
            if (list.k == V_UNDEF) break; /* Jinja2 iterates an undefined value as empty */
            if (list.k != V_LIST) return type_err(n->e, "a for loop over a value that is not a list");
            size_t base = R->nvars;
            for (size_t i = 0; i < list.n; i++) {
                if (++R->iters > NS__CHAT_MAX_ITERS)
                    return ns_err_set(NS_ETOOBIG, "chat template: more than %ld loop iterations at offset %zu", NS__CHAT_MAX_ITERS, n->off);
                R->nvars = base; /* sets of the previous iteration end here */
                if ((rc = set_var(R, base, "loop", 4, (val){.k = V_LOOP, .i = (int64_t)i, .n = list.n})) < 0 ||
                    (rc = set_var(R, base, n->s, n->n, (val){.k = V_MSG, .i = list.idx[i]})) < 0 ||
                    (rc = run(R, n->body, base)) < 0)
                    return rc;
            }
            R->nvars = base;
            break;
        }
        }
    }
    return NS_OK;
}

int ns_chat_tmpl_render(const ns_chat_tmpl *t, const ns_chat_msg *m, int n, int add_generation_prompt,
                        const char *bos_token, const char *eos_token, ns_buf *out)
{
    if (!t || !out || n < 0 || (n > 0 && !m)) return ns_err_set(NS_EINVAL, "chat template: bad arguments to render");
    rctx R = {.m = m, .out = out, .out0 = out->len};
    ns_arena_init(&R.ar, 0);
    int rc = NS_OK;
    R.role_n = ns_malloc(sizeof(size_t) * (size_t)(n + 1) * 2);
    int *all = ns_malloc(sizeof(int) * (size_t)(n + 1));
    if (!R.role_n || !all) {
        rc = NS_ENOMEM;
        goto done;
    }
    R.content_n = R.role_n + n + 1;
    for (int i = 0; i < n; i++) {
        if (!m[i].role || !m[i].role[0]) {
            rc = ns_err_set(NS_EINVAL, "chat template: message %d has no role", i);
            goto done;
        }
        if (!m[i].content) {
            rc = ns_err_set(NS_EINVAL, "chat template: message %d has no content", i);
            goto done;
        }
        R.role_n[i] = strlen(m[i].role);
        R.content_n[i] = strlen(m[i].content);
        if (!ns_utf8_valid(m[i].role, R.role_n[i]) || !ns_utf8_valid(m[i].content, R.content_n[i])) {
            rc = ns_err_set(NS_EFORMAT, "chat template: message %d: %s is not valid UTF-8", i,
                            ns_utf8_valid(m[i].role, R.role_n[i]) ? "content" : "role");
            goto done;
        }
        all[i] = i;
    }
    const char *bos = bos_token ? bos_token : "", *eos = eos_token ? eos_token : "";
    if ((rc = set_var(&R, 0, "messages", 8, (val){.k = V_LIST, .idx = all, .n = (size_t)n})) < 0 ||
        (rc = set_var(&R, 0, "add_generation_prompt", 21, (val){.k = V_BOOL, .i = add_generation_prompt != 0})) < 0 ||
        (rc = set_var(&R, 0, "bos_token", 9, mkstr(bos, strlen(bos)))) < 0 ||
        (rc = set_var(&R, 0, "eos_token", 9, mkstr(eos, strlen(eos)))) < 0)
        goto done;
    rc = run(&R, t->root, 0);
done:
    if (rc < 0) {
        out->len = R.out0;
        if (out->data) out->data[out->len] = 0;
    }
    free(R.role_n);
    free(all);
    free(R.vars);
    ns_arena_release(&R.ar);
    return rc < 0 ? rc : NS_OK;
}
