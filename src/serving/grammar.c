/*
 * grammar.c — the recogniser of constrained JSON (grammar.h): a pushdown
 * automaton fed one byte at a time, with one small frame per value being
 * written (grammar_int.h).
 *
 * A byte goes to the top frame. A frame that is complete but cannot take
 * the byte (a number before ',', an enum value that a longer one extends)
 * is popped and the byte retried on its parent; a frame whose value closes
 * on the byte ('}', ']', '"', the last byte of a literal no other extends)
 * pops at once. A container expecting a value pushes the frame its node
 * dictates for the byte (anyOf dispatches on the first byte). Every
 * transition keeps a continuation open: a ',' only when another key or
 * item may follow, a '}' or ']' only when nothing required is left, a
 * key's bytes only while some allowed key has them as a prefix, escapes
 * only when they can finish as a scalar value — so a masked sampler never
 * walks into a dead end.
 */
#include <stdlib.h>
#include <string.h>

#include "grammar_int.h"

enum { R_REJECT = 0, R_ACCEPT = 1, R_POP = 2 };

enum { O_OPEN, O_FIRST, O_KEY, O_KEYSTR, O_COLON, O_VALUE, O_INVAL, O_AFTER, O_NEXT };
enum { A_OPEN, A_FIRST, A_VALUE, A_INVAL, A_AFTER };
enum { S_OPEN, S_BODY, S_ESC, S_HEX, S_LO_BS, S_LO_U, S_LO_HEX, S_UTF8 };
enum { N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

void ns__gram_copy(ns_grammar_state *dst, const ns_grammar_state *src)
{
    dst->g = src->g;
    dst->sp = src->sp;
    dst->finished = src->finished;
    memcpy(dst->f, src->f, sizeof(ns__gframe) * (size_t)src->sp);
}

static int push(ns_grammar_state *s, int node, int kind, int st)
{
    if (s->sp >= NS__GRAM_MAX_FRAMES) return 0;
    ns__gframe *f = &s->f[s->sp++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->kind = (uint8_t)kind;
    f->st = (uint8_t)st;
    return 1;
}

static int frame_step(ns_grammar_state *s, unsigned char ch);

/* Start a value of `node` with its first byte ch: 1 accepted, 0 not. */
static int push_value(ns_grammar_state *s, int node, unsigned char ch)
{
    const ns_grammar *g = s->g;
    while (g->nodes[node].kind == NS__G_ANYOF) {
        node = g->disp[g->nodes[node].d][ch];
        if (node < 0) return 0;
    }
    const ns__gnode *n = &g->nodes[node];
    int ok;
    switch (n->kind) {
    case NS__G_ANY:
        if (ch == '{' || ch == '[') {
            if (s->sp >= NS__GRAM_ANY_DEPTH) return 0;
            ok = ch == '{' ? push(s, g->any_obj, NS__F_ANYOBJ, O_OPEN) : push(s, g->any_arr, NS__F_ARR, A_OPEN);
        } else if (ch == '"') {
            ok = push(s, g->any_str, NS__F_STR, S_OPEN);
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            ok = push(s, g->any_num, NS__F_NUM, N_START);
        } else if (ch == 't' || ch == 'f' || ch == 'n') {
            ok = push(s, g->any_lit, NS__F_LIT, 0);
        } else {
            return 0;
        }
        break;
    case NS__G_OBJ: ok = push(s, node, NS__F_OBJ, O_OPEN); break;
    case NS__G_ANYOBJ: ok = push(s, node, NS__F_ANYOBJ, O_OPEN); break;
    case NS__G_ARR: ok = push(s, node, NS__F_ARR, A_OPEN); break;
    case NS__G_STR: ok = push(s, node, NS__F_STR, S_OPEN); break;
    case NS__G_NUM:
    case NS__G_INT:
        ok = push(s, node, NS__F_NUM, N_START);
        if (ok) s->f[s->sp - 1].aux = n->kind == NS__G_INT;
        break;
    default: ok = push(s, node, NS__F_LIT, 0); break;
    }
    return ok && frame_step(s, ch) == R_ACCEPT;
}

/* The frame on top is complete: pop it and tell its parent. */
static void pop(ns_grammar_state *s)
{
    ns__gframe child = s->f[--s->sp];
    if (!s->sp) {
        s->finished = 1;
        return;
    }
    ns__gframe *p = &s->f[s->sp - 1];
    if (p->kind == NS__F_OBJ) {
        const ns__gnode *n = &s->g->nodes[p->node];
        p->st = O_AFTER;
        if (n->sel >= 0 && p->b == n->sel) p->d = child.a; /* the tool the name chose */
    } else if (p->kind == NS__F_ANYOBJ) {
        p->st = p->st == O_KEYSTR ? O_COLON : O_AFTER;
    } else if (p->kind == NS__F_ARR) {
        p->st = A_AFTER;
        p->a++;
    }
}

/* ---- objects of a schema ---- */

static int required_left(const ns_grammar *g, const ns__gnode *n, int from)
{
    for (int j = from; j < n->np; j++)
        if (g->props[n->p0 + j].required) return 1;
    return 0;
}
/* The last property that may come next: the first required one from `from` on. */
static int key_limit(const ns_grammar *g, const ns__gnode *n, int from)
{
    for (int j = from; j < n->np; j++)
        if (g->props[n->p0 + j].required) return j;
    return n->np - 1;
}

/* What schema and free objects share: '{', ':' and the one space after ':'
 * or ','. 1 when the byte was handled (*r says how). */
static int obj_common(ns__gframe *f, unsigned char ch, int *r)
{
    if (f->st == O_OPEN || f->st == O_COLON) {
        int open = f->st == O_OPEN;
        *r = ch == (open ? '{' : ':') ? R_ACCEPT : R_REJECT;
        if (*r == R_ACCEPT) {
            f->st = open ? O_FIRST : O_VALUE;
            f->sp_ok = !open;
        }
        return 1;
    }
    if ((f->st == O_NEXT || f->st == O_VALUE) && ch == ' ' && f->sp_ok) {
        f->sp_ok = 0;
        *r = R_ACCEPT;
        return 1;
    }
    return 0;
}

static int obj_step(ns_grammar_state *s, ns__gframe *f, unsigned char ch)
{
    const ns_grammar *g = s->g;
    const ns__gnode *n = &g->nodes[f->node];
    const ns__gprop *P = g->props + n->p0;
    int r;
    if (obj_common(f, ch, &r)) return r;
    switch (f->st) {
    case O_NEXT: /* a key must come */
    case O_FIRST:
        if (ch == '"' && f->a < n->np) {
            f->st = O_KEY;
            f->b = f->a;
            f->c = 0;
            f->sp_ok = 0;
            return R_ACCEPT;
        }
        if (ch == '}' && f->st == O_FIRST && !required_left(g, n, f->a)) {
            pop(s);
            return R_ACCEPT;
        }
        return R_REJECT;
    case O_KEY: {
        int lim = key_limit(g, n, f->a), pos = f->c;
        const ns__gprop *cur = &P[f->b];
        for (int j = f->b; j <= lim; j++) {
            const ns__gprop *q = &P[j];
            if (q->klen < pos || memcmp(q->key, cur->key, (size_t)pos)) continue;
            if (ch == '"' ? q->klen == pos : (q->klen > pos && (unsigned char)q->key[pos] == ch)) {
                if (ch == '"') {
                    f->st = O_COLON;
                    f->a = (uint16_t)(j + 1);
                } else {
                    f->c++;
                }
                f->b = (uint16_t)j;
                return R_ACCEPT;
            }
        }
        return R_REJECT;
    }
    case O_VALUE: {
        int node = n->dep >= 0 && f->b == n->dep ? g->deps[n->dep0 + f->d] : P[f->b].node;
        f->st = O_INVAL;
        f->sp_ok = 0;
        return push_value(s, node, ch) ? R_ACCEPT : R_REJECT;
    }
    case O_AFTER:
        if (ch == ',' && f->a < n->np) {
            f->st = O_NEXT;
            f->sp_ok = 1;
            return R_ACCEPT;
        }
        if (ch == '}' && !required_left(g, n, f->a)) {
            pop(s);
            return R_ACCEPT;
        }
        return R_REJECT;
    }
    return R_REJECT;
}

static int anyobj_step(ns_grammar_state *s, ns__gframe *f, unsigned char ch)
{
    int r;
    if (obj_common(f, ch, &r)) return r;
    switch (f->st) {
    case O_NEXT:
    case O_FIRST:
        if (ch == '"') {
            f->st = O_KEYSTR;
            f->sp_ok = 0;
            return push_value(s, s->g->any_str, ch) ? R_ACCEPT : R_REJECT;
        }
        if (ch == '}' && f->st == O_FIRST) {
            pop(s);
            return R_ACCEPT;
        }
        return R_REJECT;
    case O_VALUE:
        f->st = O_INVAL;
        f->sp_ok = 0;
        return push_value(s, s->g->any, ch) ? R_ACCEPT : R_REJECT;
    case O_AFTER:
        if (ch == ',') {
            f->st = O_NEXT;
            f->sp_ok = 1;
            return R_ACCEPT;
        }
        if (ch == '}') {
            pop(s);
            return R_ACCEPT;
        }
        return R_REJECT;
    }
    return R_REJECT;
}

static int arr_step(ns_grammar_state *s, ns__gframe *f, unsigned char ch)
{
    const ns__gnode *n = &s->g->nodes[f->node];
    switch (f->st) {
    case A_OPEN:
        if (ch != '[') return R_REJECT;
        f->st = A_FIRST;
        return R_ACCEPT;
    case A_FIRST:
        if (ch == ']' && n->min == 0) {
            pop(s);
            return R_ACCEPT;
        }
        if (n->max == 0) return R_REJECT;
        f->st = A_INVAL;
        return push_value(s, n->items, ch) ? R_ACCEPT : R_REJECT;
    case A_VALUE:
        if (ch == ' ' && f->sp_ok) {
            f->sp_ok = 0;
            return R_ACCEPT;
        }
        f->st = A_INVAL;
        f->sp_ok = 0;
        return push_value(s, n->items, ch) ? R_ACCEPT : R_REJECT;
    case A_AFTER:
        if (ch == ',' && f->a < n->max) {
            f->st = A_VALUE;
            f->sp_ok = 1;
            return R_ACCEPT;
        }
        if (ch == ']' && f->a >= n->min) {
            pop(s);
            return R_ACCEPT;
        }
        return R_REJECT;
    }
    return R_REJECT;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int str_step(ns_grammar_state *s, ns__gframe *f, unsigned char ch)
{
    const ns__gnode *n = &s->g->nodes[f->node];
    int h;
    switch (f->st) {
    case S_OPEN:
        if (ch != '"') return R_REJECT;
        f->st = S_BODY;
        return R_ACCEPT;
    case S_BODY:
        if (ch == '"') {
            if (f->a < n->min) return R_REJECT;
            pop(s);
            return R_ACCEPT;
        }
        if (n->max != NS__GRAM_NONE && f->a >= n->max) return R_REJECT;
        if (ch == '\\') {
            f->st = S_ESC;
        } else if (ch < 0x20) {
            return R_REJECT;
        } else if (ch >= 0x80) { /* RFC 3629 lead bytes and the range of the next byte */
            if (ch >= 0xC2 && ch <= 0xDF) f->aux = 1, f->b = 0x80, f->c = 0xBF;
            else if (ch == 0xE0) f->aux = 2, f->b = 0xA0, f->c = 0xBF;
            else if (ch == 0xED) f->aux = 2, f->b = 0x80, f->c = 0x9F;
            else if (ch >= 0xE1 && ch <= 0xEF) f->aux = 2, f->b = 0x80, f->c = 0xBF;
            else if (ch == 0xF0) f->aux = 3, f->b = 0x90, f->c = 0xBF;
            else if (ch >= 0xF1 && ch <= 0xF3) f->aux = 3, f->b = 0x80, f->c = 0xBF;
            else if (ch == 0xF4) f->aux = 3, f->b = 0x80, f->c = 0x8F;
            else return R_REJECT;
            f->st = S_UTF8;
        }
        f->a++;
        return R_ACCEPT;
    case S_UTF8:
        if (ch < f->b || ch > f->c) return R_REJECT;
        f->b = 0x80;
        f->c = 0xBF;
        if (--f->aux == 0) f->st = S_BODY;
        return R_ACCEPT;
    case S_ESC:
        if (ch == 'u') {
            f->st = S_HEX;
            f->aux = 0;
            f->u = 0;
            return R_ACCEPT;
        }
        if (!memchr("\"\\/bfnrt", ch, 8) || !ch) return R_REJECT;
        f->st = S_BODY;
        return R_ACCEPT;
    case S_HEX:
        if ((h = hexval(ch)) < 0) return R_REJECT;
        if (f->aux == 1 && f->u == 0xD && h >= 0xC) return R_REJECT; /* a lone low surrogate */
        if (f->aux == 3 && f->u == 0 && h == 0) return R_REJECT;      /* \u0000 */
        f->u = f->u * 16 + (uint32_t)h;
        if (++f->aux == 4) f->st = f->u >= 0xD800 && f->u <= 0xDBFF ? S_LO_BS : S_BODY;
        return R_ACCEPT;
    case S_LO_BS:
        if (ch != '\\') return R_REJECT;
        f->st = S_LO_U;
        return R_ACCEPT;
    case S_LO_U:
        if (ch != 'u') return R_REJECT;
        f->st = S_LO_HEX;
        f->aux = 0;
        return R_ACCEPT;
    case S_LO_HEX:
        if ((h = hexval(ch)) < 0) return R_REJECT;
        if ((f->aux == 0 && h != 0xD) || (f->aux == 1 && h < 0xC)) return R_REJECT; /* DC00..DFFF */
        if (++f->aux == 4) f->st = S_BODY;
        return R_ACCEPT;
    }
    return R_REJECT;
}

static int num_step(ns__gframe *f, unsigned char ch)
{
    int digit = ch >= '0' && ch <= '9', integer = f->aux;
    switch (f->st) {
    case N_START:
        if (ch == '-') {
            f->st = N_MINUS;
            return R_ACCEPT;
        }
        /* fall through */
    case N_MINUS:
        if (!digit) return R_REJECT;
        f->st = ch == '0' ? N_ZERO : N_INT;
        f->a = 1;
        return R_ACCEPT;
    case N_INT:
        if (digit) {
            if (f->a >= NS__GRAM_MAX_INT) return R_POP;
            f->a++;
            return R_ACCEPT;
        }
        /* fall through */
    case N_ZERO:
        if (!integer && ch == '.') {
            f->st = N_DOT;
            return R_ACCEPT;
        }
        if (!integer && (ch == 'e' || ch == 'E')) {
            f->st = N_E;
            return R_ACCEPT;
        }
        return R_POP;
    case N_DOT:
        if (!digit) return R_REJECT;
        f->st = N_FRAC;
        f->a = 1;
        return R_ACCEPT;
    case N_FRAC:
        if (digit) {
            if (f->a >= NS__GRAM_MAX_FRAC) return R_POP;
            f->a++;
            return R_ACCEPT;
        }
        if (ch == 'e' || ch == 'E') {
            f->st = N_E;
            return R_ACCEPT;
        }
        return R_POP;
    case N_E:
        if (ch == '+' || ch == '-') {
            f->st = N_ESIGN;
            return R_ACCEPT;
        }
        /* fall through */
    case N_ESIGN:
        if (!digit) return R_REJECT;
        f->st = N_EXP;
        f->a = 1;
        return R_ACCEPT;
    case N_EXP:
        if (digit && f->a < NS__GRAM_MAX_EXP) {
            f->a++;
            return R_ACCEPT;
        }
        return R_POP;
    }
    return R_REJECT;
}

/* The candidate literal that is complete at the frame's position, or -1. */
static int lit_complete(const ns_grammar *g, const ns__gframe *f)
{
    const ns__gnode *n = &g->nodes[f->node];
    const ns__glit *L = g->lits + n->l0;
    for (int j = f->a; j < n->nl; j++)
        if (L[j].n == f->b && !memcmp(L[j].s, L[f->a].s, f->b)) return j;
    return -1;
}

static int lit_step(ns_grammar_state *s, ns__gframe *f, unsigned char ch)
{
    const ns__gnode *n = &s->g->nodes[f->node];
    const ns__glit *L = s->g->lits + n->l0;
    int pos = f->b;
    for (int j = f->a; j < n->nl; j++) {
        if (L[j].n <= pos || (unsigned char)L[j].s[pos] != ch || memcmp(L[j].s, L[f->a].s, (size_t)pos)) continue;
        f->a = (uint16_t)j;
        f->b = (uint16_t)(pos + 1);
        if (L[j].n == pos + 1) { /* complete: pop unless a longer candidate goes on */
            int longer = 0;
            for (int k = j + 1; k < n->nl && !longer; k++)
                longer = L[k].n > pos + 1 && !memcmp(L[k].s, L[j].s, (size_t)pos + 1);
            if (!longer) pop(s);
        }
        return R_ACCEPT;
    }
    int j = lit_complete(s->g, f);
    if (j < 0) return R_REJECT;
    f->a = (uint16_t)j;
    return R_POP;
}

static int frame_step(ns_grammar_state *s, unsigned char ch)
{
    ns__gframe *f = &s->f[s->sp - 1];
    switch (f->kind) {
    case NS__F_OBJ: return obj_step(s, f, ch);
    case NS__F_ANYOBJ: return anyobj_step(s, f, ch);
    case NS__F_ARR: return arr_step(s, f, ch);
    case NS__F_STR: return str_step(s, f, ch);
    case NS__F_NUM: return num_step(f, ch);
    default: return lit_step(s, f, ch);
    }
}

int ns__gram_step(ns_grammar_state *s, unsigned char c)
{
    for (;;) {
        if (!s->sp) return s->finished ? 0 : push_value(s, s->g->root, c);
        int r = frame_step(s, c);
        if (r != R_POP) return r == R_ACCEPT;
        pop(s);
    }
}

int ns__gram_str_class(const ns_grammar_state *s, int need)
{
    if (!s->sp) return -1;
    const ns__gframe *f = &s->f[s->sp - 1];
    if (f->kind != NS__F_STR || (f->st != S_BODY && f->st != S_UTF8)) return -1;
    int max = s->g->nodes[f->node].max;
    if (max != NS__GRAM_NONE && max - f->a < need) return -1;
    if (f->st == S_BODY) return 0;
    if (f->aux == 1) return 1;
    if (f->aux == 2) return f->b == 0xA0 ? 3 : f->c == 0x9F ? 4 : 2;
    return f->b == 0x90 ? 6 : f->c == 0x8F ? 7 : 5;
}

static int frame_complete(const ns_grammar *g, const ns__gframe *f)
{
    if (f->kind == NS__F_NUM) return f->st == N_ZERO || f->st == N_INT || f->st == N_FRAC || f->st == N_EXP;
    if (f->kind == NS__F_LIT) return lit_complete(g, f) >= 0;
    return 0;
}

int ns_grammar_done(const ns_grammar_state *s)
{
    return s->finished || (s->sp == 1 && frame_complete(s->g, &s->f[0]));
}

int ns_grammar_state_new(ns_grammar_state **out, const ns_grammar *g)
{
    *out = NULL;
    if (!g) return ns_err_set(NS_EINVAL, "grammar: no grammar");
    ns_grammar_state *s = ns_calloc(1, sizeof *s);
    if (!s) return NS_ENOMEM;
    s->g = g;
    *out = s;
    return NS_OK;
}

int ns_grammar_state_clone(ns_grammar_state **out, const ns_grammar_state *s)
{
    int rc = ns_grammar_state_new(out, s->g);
    if (rc < 0) return rc;
    ns__gram_copy(*out, s);
    return NS_OK;
}

void ns_grammar_state_free(ns_grammar_state *s) { free(s); }

int ns_grammar_feed(ns_grammar_state *s, const char *bytes, size_t n)
{
    ns_grammar_state t;
    ns__gram_copy(&t, s);
    for (size_t i = 0; i < n; i++)
        if (!ns__gram_step(&t, (unsigned char)bytes[i]))
            return ns_err_set(NS_EINVAL, "grammar: byte %zu (0x%02x) does not continue a valid output", i,
                              (unsigned char)bytes[i]);
    ns__gram_copy(s, &t);
    return NS_OK;
}
