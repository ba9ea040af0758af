/*
 * chat_int.h — the compiled form of a chat template, shared by the compiler
 * (chat_parse.c) and the renderer (chat_render.c): a tree of statements
 * whose expressions are trees too, all carved from the template's arena.
 */
#ifndef NS_SERVING_CHAT_INT_H
#define NS_SERVING_CHAT_INT_H

#include <stdint.h>

#include "northstar/chat.h"

#define NS__CHAT_MAX_DEPTH 64                    /* nested tags, nested expressions */
#define NS__CHAT_MAX_OUT ((size_t)16 << 20)      /* bytes of output and of any string */
#define NS__CHAT_MAX_ITERS 1000000L              /* loop iterations per render */
#define NS__CHAT_MAX_EVAL 256                    /* depth of an expression tree when evaluated */

typedef enum {
    NS__E_STR, NS__E_INT, NS__E_BOOL, NS__E_NONE, NS__E_NAME,
    NS__E_ATTR,   /* a.s */
    NS__E_INDEX,  /* a[b] */
    NS__E_SLICE,  /* a[b:c] (b, c may be NULL) */
    NS__E_METHOD, /* a.s(b) (b may be NULL) */
    NS__E_RAISE,  /* raise_exception(a) */
    NS__E_FILTER, /* a | s */
    NS__E_TEST,   /* a is [not] s  (i = 1 when negated) */
    NS__E_BIN,    /* a op b: op is one of + - * / % ~ = ! < > l g (l <=, g >=, = ==, ! !=, / //) */
    NS__E_IN,     /* a in b (i = 1 for not in) */
    NS__E_NOT, NS__E_NEG, NS__E_AND, NS__E_OR,
    NS__E_COND    /* a if b else c (c may be NULL) */
} ns__chat_ekind;

typedef struct ns__chat_expr {
    int kind;
    int op;
    size_t off;                    /* offset in the source, for errors */
    const char *s;                 /* string literal / name / attribute / method / filter / test */
    size_t n;
    int64_t i;                     /* integer literal, bool, negation flags */
    struct ns__chat_expr *a, *b, *c;
} ns__chat_expr;

typedef enum { NS__S_TEXT, NS__S_OUT, NS__S_IF, NS__S_FOR, NS__S_SET } ns__chat_skind;

typedef struct ns__chat_node {
    int kind;
    size_t off;
    const char *s;                 /* text, or the variable of for / set */
    size_t n;
    ns__chat_expr *e;              /* output / condition / iterable / value */
    struct ns__chat_node *body;    /* then-branch, loop body */
    struct ns__chat_node *alt;     /* else-branch (an elif is an if node here) */
    struct ns__chat_node *next;
} ns__chat_node;

struct ns_chat_tmpl {
    ns_arena arena;                /* nodes, expressions, texts */
    ns__chat_node *root;
};

/* Compile src into t (arena initialised by the caller). */
int ns__chat_parse(ns_chat_tmpl *t, const char *src);

#endif
