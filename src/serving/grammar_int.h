/*
 * grammar_int.h — the compiled constraint and the parse state shared by the
 * schema compiler (grammar_schema.c), the recogniser (grammar.c) and the
 * logit mask (grammar_mask.c).
 *
 * A grammar is a table of nodes, one per schema (sub)value: objects with
 * their properties in order, arrays with their item node and bounds,
 * strings with length bounds, numbers, literal sets (enum, const, true,
 * false, null: the exact texts allowed) and anyOf dispatch tables (which
 * branch a first byte starts). A state is a stack of small frames, one per
 * value being written, so copying a state costs its depth.
 */
#ifndef NS_SERVING_GRAMMAR_INT_H
#define NS_SERVING_GRAMMAR_INT_H

#include <stdint.h>

#include "northstar/grammar.h"

#define NS__GRAM_MAX_FRAMES 48   /* values nested in one state */
#define NS__GRAM_ANY_DEPTH 16    /* containers an any-value may open (frames below) */
#define NS__GRAM_SCHEMA_DEPTH 32 /* schema nesting */
#define NS__GRAM_MAX_INT 16      /* digits of a number's integer part */
#define NS__GRAM_MAX_FRAC 16
#define NS__GRAM_MAX_EXP 2
#define NS__GRAM_NONE 0xFFFF     /* no bound */

typedef enum {
    NS__G_ANY,    /* any JSON value */
    NS__G_OBJ,    /* schema object: props[p0 .. p0+np) in order */
    NS__G_ANYOBJ, /* any object: free keys, any values */
    NS__G_ARR,    /* items node, min..max items */
    NS__G_STR,    /* min..max code points */
    NS__G_NUM,
    NS__G_INT,
    NS__G_LIT,    /* exactly one of lits[l0 .. l0+nl) */
    NS__G_ANYOF   /* disp[d][first byte] = branch node, -1 = none */
} ns__gkind;

typedef struct ns__gnode {
    int kind;
    int p0, np;          /* OBJ: properties */
    int sel, dep, dep0;  /* OBJ: property `dep`'s node is deps[dep0 + the candidate property `sel` matched] (tools), -1 = none */
    int items;           /* ARR */
    int min, max;        /* ARR items, STR code points (max NS__GRAM_NONE = none) */
    int l0, nl;          /* LIT */
    int d;               /* ANYOF */
} ns__gnode;

typedef struct ns__gprop {
    const char *key;     /* plain UTF-8, no byte that JSON would escape */
    uint16_t klen;
    int node;
    int required;
} ns__gprop;

typedef struct ns__glit {
    const char *s;       /* compact JSON text */
    uint16_t n;
} ns__glit;

struct ns_grammar {
    ns__gnode *nodes;
    ns__gprop *props;
    ns__glit *lits;
    int16_t (*disp)[256];
    int *deps;
    int nnodes, nprops, nlits, ndisp, ndeps;
    int cnodes, cprops, clits, cdisp, cdeps;  /* capacities */
    int root;
    int any, any_obj, any_arr, any_str, any_num, any_lit; /* the any-value's nodes */
    ns_arena strs;                            /* keys and literal texts */
};

/* Frame kinds and their sub-states. */
enum { NS__F_OBJ, NS__F_ANYOBJ, NS__F_ARR, NS__F_STR, NS__F_NUM, NS__F_LIT };

typedef struct ns__gframe {
    int32_t node;
    uint8_t kind, st;
    uint8_t sp_ok;       /* one space may come now */
    uint8_t aux;         /* STR: hex digits / UTF-8 bytes to come; NUM: integer only */
    uint16_t a;          /* OBJ: first property that may still come; ARR: items; STR: code points; NUM: digits; LIT: candidate */
    uint16_t b;          /* OBJ: key candidate / current property; LIT: bytes matched; STR: next byte's low bound */
    uint16_t c;          /* OBJ: key bytes matched; STR: next byte's high bound */
    uint16_t d;          /* OBJ: the candidate the selector matched */
    uint32_t u;          /* STR: \u value */
} ns__gframe;

struct ns_grammar_state {
    const ns_grammar *g;
    int sp;              /* frames in use */
    int finished;        /* the root value is complete */
    ns__gframe f[NS__GRAM_MAX_FRAMES];
};

/* Feed one byte: 1 accepted, 0 rejected (s may then be half-changed: feed
 * a copy). */
int ns__gram_step(ns_grammar_state *s, unsigned char c);
/* Copy the used part of a state. */
void ns__gram_copy(ns_grammar_state *dst, const ns_grammar_state *src);
/* The grammar's any-value nodes and a fresh table (grammar_schema.c). */
int ns__gram_init(ns_grammar *g);
/* For the mask's fast path: when the top frame is a string body with room
 * for `need` more code points, its UTF-8 state (0 at a character boundary,
 * 1..7 inside a character, as grammar_mask.c's utf8_next), else -1. */
int ns__gram_str_class(const ns_grammar_state *s, int need);

#endif
