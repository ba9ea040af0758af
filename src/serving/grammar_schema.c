/*
 * grammar_schema.c — builds grammars (grammar_int.h): any JSON object, a
 * JSON Schema of the subset grammar.h lists, a set of tools.
 *
 * The schema is read with jansson (whose objects keep the text's key
 * order, which becomes the order keys are written in) and compiled
 * recursively into nodes; every keyword is either honoured, an annotation,
 * or refused with its JSON Pointer path, so a grammar never promises less
 * than the schema asks. Children are compiled before a parent's
 * properties are appended, so each object's properties stay contiguous.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "grammar_int.h"

#define GROW(arr, n, cap)                                                      \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            int nc_ = (cap) ? (cap) * 2 : 16;                                  \
            void *p_ = ns_realloc((arr), sizeof(*(arr)) * (size_t)nc_);        \
            if (!p_) return NS_ENOMEM;                                         \
            (arr) = p_;                                                        \
            (cap) = nc_;                                                       \
        }                                                                      \
    } while (0)

static int add_node(ns_grammar *g, int kind, int *out)
{
    if (g->nnodes >= 65000) return ns_err_set(NS_ETOOBIG, "json schema: more than 65000 nodes");
    GROW(g->nodes, g->nnodes, g->cnodes);
    ns__gnode *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->sel = n->dep = -1;
    n->max = NS__GRAM_NONE;
    *out = g->nnodes++;
    return NS_OK;
}

static int add_lit(ns_grammar *g, const char *s, size_t n)
{
    if (n > 60000) return ns_err_set(NS_ETOOBIG, "json schema: a literal of %zu bytes", n);
    GROW(g->lits, g->nlits, g->clits);
    char *c = ns_arena_strndup(&g->strs, s, n);
    if (!c) return NS_ENOMEM;
    g->lits[g->nlits++] = (ns__glit){c, (uint16_t)n};
    return NS_OK;
}

/* A literal-set node from the compact JSON texts of values[0..n) (duplicates dropped). */
static int lit_node(ns_grammar *g, json_t *const *values, int n, int *out)
{
    int rc = add_node(g, NS__G_LIT, out);
    if (rc < 0) return rc;
    int l0 = g->nlits;
    for (int i = 0; i < n; i++) {
        char *t = json_dumps(values[i], JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t) return NS_ENOMEM;
        size_t tl = strlen(t);
        int dup = 0;
        for (int j = l0; j < g->nlits && !dup; j++) dup = g->lits[j].n == tl && !memcmp(g->lits[j].s, t, tl);
        rc = dup ? NS_OK : add_lit(g, t, tl);
        free(t);
        if (rc < 0) return rc;
    }
    g->nodes[*out].l0 = l0;
    g->nodes[*out].nl = g->nlits - l0;
    return NS_OK;
}

static int lit_words(ns_grammar *g, const char *const *w, int n, int *out)
{
    json_t *v[3];
    for (int i = 0; i < n; i++) v[i] = json_loads(w[i], JSON_DECODE_ANY, NULL);
    int rc = lit_node(g, v, n, out);
    for (int i = 0; i < n; i++) json_decref(v[i]);
    return rc;
}

int ns__gram_init(ns_grammar *g)
{
    memset(g, 0, sizeof *g);
    ns_arena_init(&g->strs, 0);
    static const char *const words[] = {"true", "false", "null"};
    int rc;
    if ((rc = add_node(g, NS__G_ANY, &g->any)) < 0 || (rc = add_node(g, NS__G_ANYOBJ, &g->any_obj)) < 0 ||
        (rc = add_node(g, NS__G_ARR, &g->any_arr)) < 0 || (rc = add_node(g, NS__G_STR, &g->any_str)) < 0 ||
        (rc = add_node(g, NS__G_NUM, &g->any_num)) < 0 || (rc = lit_words(g, words, 3, &g->any_lit)) < 0)
        return rc;
    g->nodes[g->any_arr].items = g->any;
    g->root = g->any;
    return NS_OK;
}

void ns_grammar_free(ns_grammar *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->props);
    free(g->lits);
    free(g->disp);
    free(g->deps);
    ns_arena_release(&g->strs);
    free(g);
}

/* ---- the schema compiler ---- */

typedef struct cctx {
    ns_grammar *g;
    char path[512];
    size_t plen;
} cctx;

static size_t path_push(cctx *C, const char *seg)
{
    size_t old = C->plen;
    int w = snprintf(C->path + C->plen, sizeof C->path - C->plen, "/%s", seg);
    if (w > 0) C->plen = C->plen + (size_t)w < sizeof C->path ? C->plen + (size_t)w : sizeof C->path - 1;
    return old;
}
static void path_pop(cctx *C, size_t old)
{
    C->plen = old;
    C->path[old] = 0;
}

static int refuse(cctx *C, const char *kw, const char *why)
{
    return ns_err_set(NS_EUNSUPPORTED, "json schema '%s%s%s': %s", C->path, kw ? "/" : "", kw ? kw : "", why);
}
static int malformed(cctx *C, const char *kw, const char *why)
{
    return ns_err_set(NS_EFORMAT, "json schema '%s%s%s': %s", C->path, kw ? "/" : "", kw ? kw : "", why);
}

static int in_words(const char *k, const char *const *w)
{
    for (; *w; w++)
        if (!strcmp(k, *w)) return 1;
    return 0;
}

static const char *const honoured[] = {"type", "properties", "required", "additionalProperties", "items", "minItems",
                                       "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", NULL};
static const char *const annotations[] = {"title", "description", "default", "examples", "$schema", "$id", "$comment",
                                          "$defs", "definitions", "deprecated", "readOnly", "writeOnly", NULL};

static int compile(cctx *C, json_t *s, int depth, int *out);

/* A bound keyword: absent = dflt; else an integer in [0, 65534]. */
static int bound(cctx *C, json_t *s, const char *kw, int dflt, int *out)
{
    json_t *v = json_object_get(s, kw);
    *out = dflt;
    if (!v) return NS_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return malformed(C, kw, "must be a non-negative integer");
    json_int_t x = json_integer_value(v);
    if (x >= NS__GRAM_NONE) {
        if (dflt == NS__GRAM_NONE) return NS_OK; /* a maximum this large bounds nothing we produce */
        return refuse(C, kw, "a minimum over 65534 is not supported");
    }
    *out = (int)x;
    return NS_OK;
}

/* The bytes a value of node may start with. */
static void first_bytes(const ns_grammar *g, int node, unsigned char set[256])
{
    const ns__gnode *n = &g->nodes[node];
    switch (n->kind) {
    case NS__G_ANY:
        set['{'] = set['['] = set['"'] = set['-'] = set['t'] = set['f'] = set['n'] = 1;
        for (int c = '0'; c <= '9'; c++) set[c] = 1;
        break;
    case NS__G_OBJ:
    case NS__G_ANYOBJ: set['{'] = 1; break;
    case NS__G_ARR: set['['] = 1; break;
    case NS__G_STR: set['"'] = 1; break;
    case NS__G_NUM:
    case NS__G_INT:
        set['-'] = 1;
        for (int c = '0'; c <= '9'; c++) set[c] = 1;
        break;
    case NS__G_LIT:
        for (int j = 0; j < n->nl; j++) set[(unsigned char)g->lits[n->l0 + j].s[0]] = 1;
        break;
    case NS__G_ANYOF:
        for (int c = 0; c < 256; c++) set[c] = g->disp[n->d][c] >= 0;
        break;
    }
}

/* An anyOf node over branches[0..n): the first byte picks the branch. */
static int anyof_node(cctx *C, const int *branches, int n, int *out)
{
    ns_grammar *g = C->g;
    if (n == 1) {
        *out = branches[0];
        return NS_OK;
    }
    GROW(g->disp, g->ndisp, g->cdisp);
    int d = g->ndisp++;
    int16_t who[256];
    for (int c = 0; c < 256; c++) g->disp[d][c] = -1, who[c] = -1;
    for (int i = 0; i < n; i++) {
        unsigned char set[256] = {0};
        first_bytes(g, branches[i], set);
        int ki = g->nodes[branches[i]].kind;
        for (int c = 0; c < 256; c++) {
            if (!set[c]) continue;
            if (who[c] >= 0) {
                int kj = g->nodes[g->disp[d][c]].kind;
                if ((ki == NS__G_INT && kj == NS__G_NUM) || (ki == NS__G_NUM && kj == NS__G_INT)) {
                    g->disp[d][c] = (int16_t)(ki == NS__G_NUM ? branches[i] : g->disp[d][c]); /* number holds integer */
                    continue;
                }
                char why[160];
                snprintf(why, sizeof why, "branches %d and %d can both start with '%c': anyOf branches must start differently",
                         who[c], i, c >= 0x20 && c < 0x7f ? c : '?');
                return refuse(C, NULL, why);
            }
            who[c] = (int16_t)i;
            g->disp[d][c] = (int16_t)branches[i];
        }
    }
    int rc = add_node(g, NS__G_ANYOF, out);
    if (rc < 0) return rc;
    g->nodes[*out].d = d;
    return NS_OK;
}

/* A key written as its raw bytes: valid UTF-8 with nothing JSON escapes. */
static int plain_key(const char *k, size_t n)
{
    if (!ns_utf8_valid(k, n) || n > 1024) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || k[i] == '"' || k[i] == '\\') return 0;
    return 1;
}

static int compile_object(cctx *C, json_t *s, int depth, int *out)
{
    ns_grammar *g = C->g;
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required"),
           *addl = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props)) return malformed(C, "properties", "must be an object");
    if (req && !json_is_array(req)) return malformed(C, "required", "must be an array of names");
    if (addl && !json_is_boolean(addl) && !json_is_object(addl))
        return malformed(C, "additionalProperties", "must be a boolean or a schema");
    for (size_t i = 0; req && i < json_array_size(req); i++)
        if (!json_is_string(json_array_get(req, i))) return malformed(C, "required", "must be an array of names");
    if (!props && !req) {
        if (json_is_false(addl)) return add_node(g, NS__G_OBJ, out); /* {} only */
        if (json_is_object(addl) && json_object_size(addl))
            return refuse(C, "additionalProperties", "a schema for additional properties without \"properties\"");
        *out = g->any_obj;
        return NS_OK;
    }
    size_t np = props ? json_object_size(props) : 0, nr = req ? json_array_size(req) : 0;
    if (np + nr > 1024) return refuse(C, "properties", "more than 1024 properties");
    ns__gprop *tmp = ns_calloc(np + nr + 1, sizeof *tmp);
    if (!tmp) return NS_ENOMEM;
    int rc = NS_OK, k = 0;
    const char *key;
    json_t *sub;
    size_t old = path_push(C, "properties");
    json_object_foreach(props, key, sub) {
        size_t kl = strlen(key), o2 = path_push(C, key);
        if (!plain_key(key, kl)) {
            rc = refuse(C, NULL, "a key that needs escaping (quote, backslash, control or invalid UTF-8) or over 1024 bytes");
            goto done;
        }
        char *kc = ns_arena_strndup(&g->strs, key, kl);
        if (!kc) {
            rc = NS_ENOMEM;
            goto done;
        }
        tmp[k] = (ns__gprop){kc, (uint16_t)kl, 0, 0};
        if ((rc = compile(C, sub, depth + 1, &tmp[k].node)) < 0) goto done;
        path_pop(C, o2);
        k++;
    }
    path_pop(C, old);
    for (size_t i = 0; i < nr; i++) {
        const char *r = json_string_value(json_array_get(req, i));
        size_t rl = strlen(r);
        int j = 0;
        while (j < k && !(tmp[j].klen == rl && !memcmp(tmp[j].key, r, rl))) j++;
        if (j == k) { /* required but not described: any value */
            if (!plain_key(r, rl)) {
                rc = refuse(C, "required", "a key that needs escaping");
                goto done;
            }
            char *kc = ns_arena_strndup(&g->strs, r, rl);
            if (!kc) {
                rc = NS_ENOMEM;
                goto done;
            }
            tmp[k++] = (ns__gprop){kc, (uint16_t)rl, g->any, 0};
        }
        tmp[j].required = 1;
    }
    if ((rc = add_node(g, NS__G_OBJ, out)) < 0) goto done;
    g->nodes[*out].p0 = g->nprops;
    g->nodes[*out].np = k;
    for (int j = 0; j < k; j++) {
        if (g->nprops == g->cprops) {
            int nc = g->cprops ? g->cprops * 2 : 16;
            void *p = ns_realloc(g->props, sizeof *g->props * (size_t)nc);
            if (!p) {
                rc = NS_ENOMEM;
                goto done;
            }
            g->props = p;
            g->cprops = nc;
        }
        g->props[g->nprops++] = tmp[j];
    }
done:
    free(tmp);
    return rc;
}

static int compile_typed(cctx *C, json_t *s, const char *type, int depth, int *out)
{
    ns_grammar *g = C->g;
    int rc;
    if (!strcmp(type, "object")) return compile_object(C, s, depth, out);
    if (!strcmp(type, "array")) {
        json_t *items = json_object_get(s, "items");
        int inode = g->any, mn, mx;
        if (items && json_is_array(items)) return refuse(C, "items", "items as a list (tuple validation)");
        if (items) {
            size_t old = path_push(C, "items");
            rc = compile(C, items, depth + 1, &inode);
            if (rc < 0) return rc;
            path_pop(C, old);
        }
        if ((rc = bound(C, s, "minItems", 0, &mn)) < 0 || (rc = bound(C, s, "maxItems", NS__GRAM_NONE, &mx)) < 0) return rc;
        if (mn > mx) return refuse(C, "minItems", "minItems above maxItems: no array satisfies it");
        if ((rc = add_node(g, NS__G_ARR, out)) < 0) return rc;
        g->nodes[*out].items = inode;
        g->nodes[*out].min = mn;
        g->nodes[*out].max = mx;
        return NS_OK;
    }
    if (!strcmp(type, "string")) {
        int mn, mx;
        if ((rc = bound(C, s, "minLength", 0, &mn)) < 0 || (rc = bound(C, s, "maxLength", NS__GRAM_NONE, &mx)) < 0)
            return rc;
        if (mn > mx) return refuse(C, "minLength", "minLength above maxLength: no string satisfies it");
        if (mn == 0 && mx == NS__GRAM_NONE) {
            *out = g->any_str;
            return NS_OK;
        }
        if ((rc = add_node(g, NS__G_STR, out)) < 0) return rc;
        g->nodes[*out].min = mn;
        g->nodes[*out].max = mx;
        return NS_OK;
    }
    if (!strcmp(type, "number")) {
        *out = g->any_num;
        return NS_OK;
    }
    if (!strcmp(type, "integer")) return add_node(g, NS__G_INT, out);
    if (!strcmp(type, "boolean")) {
        static const char *const w[] = {"true", "false"};
        return lit_words(g, w, 2, out);
    }
    if (!strcmp(type, "null")) {
        static const char *const w[] = {"null"};
        return lit_words(g, w, 1, out);
    }
    char why[128];
    snprintf(why, sizeof why, "unknown type \"%.64s\"", type);
    return malformed(C, "type", why);
}

static int type_matches(json_t *v, const char *type)
{
    if (!strcmp(type, "object")) return json_is_object(v);
    if (!strcmp(type, "array")) return json_is_array(v);
    if (!strcmp(type, "string")) return json_is_string(v);
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "integer")) return json_is_integer(v);
    if (!strcmp(type, "boolean")) return json_is_boolean(v);
    if (!strcmp(type, "null")) return json_is_null(v);
    return 0;
}

static int compile(cctx *C, json_t *s, int depth, int *out)
{
    ns_grammar *g = C->g;
    int rc;
    if (json_is_true(s)) {
        *out = g->any;
        return NS_OK;
    }
    if (json_is_false(s)) return refuse(C, NULL, "the schema false admits no value");
    if (!json_is_object(s)) return malformed(C, NULL, "a schema must be an object or a boolean");
    if (depth > NS__GRAM_SCHEMA_DEPTH) return refuse(C, NULL, "schemas nested deeper than 32");
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v) {
        if (in_words(key, honoured) || in_words(key, annotations)) continue;
        return refuse(C, key, "keyword not supported");
    }
    json_t *type = json_object_get(s, "type"), *en = json_object_get(s, "enum"), *co = json_object_get(s, "const"),
           *any = json_object_get(s, "anyOf");
    if (type && !json_is_string(type) && !json_is_array(type))
        return malformed(C, "type", "must be a type name or a list of them");
    for (size_t i = 0; json_is_array(type) && i < json_array_size(type); i++)
        if (!json_is_string(json_array_get(type, i))) return malformed(C, "type", "must be a type name or a list of them");
    if (json_is_array(type) && !json_array_size(type)) return refuse(C, "type", "an empty list of types admits no value");
    if (any) {
        if (!json_is_array(any) || !json_array_size(any)) return malformed(C, "anyOf", "must be a non-empty array of schemas");
        json_object_foreach(s, key, v) {
            if (strcmp(key, "anyOf") && in_words(key, honoured)) return refuse(C, key, "a keyword beside anyOf");
        }
        size_t nb = json_array_size(any);
        if (nb > 64) return refuse(C, "anyOf", "more than 64 branches");
        int br[64];
        for (size_t i = 0; i < nb; i++) {
            char seg[32];
            snprintf(seg, sizeof seg, "anyOf/%zu", i);
            size_t old = path_push(C, seg);
            if ((rc = compile(C, json_array_get(any, i), depth + 1, &br[i])) < 0) return rc;
            path_pop(C, old);
        }
        size_t old = path_push(C, "anyOf");
        rc = anyof_node(C, br, (int)nb, out);
        path_pop(C, old);
        return rc;
    }
    if (en || co) {
        if (en && co) return refuse(C, "const", "enum together with const");
        if (en && (!json_is_array(en) || !json_array_size(en))) return malformed(C, "enum", "must be a non-empty array");
        size_t nv = en ? json_array_size(en) : 1;
        if (nv > 4096) return refuse(C, "enum", "more than 4096 values");
        json_t **vals = ns_malloc(sizeof(json_t *) * nv);
        if (!vals) return NS_ENOMEM;
        int k = 0;
        for (size_t i = 0; i < nv; i++) {
            json_t *x = en ? json_array_get(en, i) : co;
            int ok = !type;
            if (json_is_string(type)) ok = type_matches(x, json_string_value(type));
            for (size_t t = 0; json_is_array(type) && t < json_array_size(type) && !ok; t++)
                ok = type_matches(x, json_string_value(json_array_get(type, t)));
            if (ok) vals[k++] = x;
        }
        rc = k ? lit_node(g, vals, k, out) : refuse(C, en ? "enum" : "const", "no value has the schema's type");
        free(vals);
        return rc;
    }
    if (json_is_string(type)) return compile_typed(C, s, json_string_value(type), depth, out);
    if (json_is_array(type)) {
        size_t nt = json_array_size(type);
        if (nt > 8) return refuse(C, "type", "more than 8 types");
        int br[8];
        for (size_t i = 0; i < nt; i++)
            if ((rc = compile_typed(C, s, json_string_value(json_array_get(type, i)), depth, &br[i])) < 0) return rc;
        size_t old = path_push(C, "type");
        rc = anyof_node(C, br, (int)nt, out);
        path_pop(C, old);
        return rc;
    }
    /* no type: what the keywords imply, else any value */
    if (json_object_get(s, "properties") || json_object_get(s, "required") || json_object_get(s, "additionalProperties"))
        return compile_typed(C, s, "object", depth, out);
    if (json_object_get(s, "items") || json_object_get(s, "minItems") || json_object_get(s, "maxItems"))
        return compile_typed(C, s, "array", depth, out);
    if (json_object_get(s, "minLength") || json_object_get(s, "maxLength")) return compile_typed(C, s, "string", depth, out);
    *out = g->any;
    return NS_OK;
}

static int compile_text(ns_grammar *g, const char *text, size_t len, const char *what, int *out)
{
    json_error_t je;
    json_t *s = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!s)
        return ns_err_set(NS_EFORMAT, "json schema%s%s: line %d column %d: %s", what ? " of " : "", what ? what : "",
                          je.line, je.column, je.text);
    cctx C = {.g = g, .path = "#", .plen = 1};
    int rc = compile(&C, s, 0, out);
    json_decref(s);
    return rc;
}

static int finish(ns_grammar *g, int rc, ns_grammar **out)
{
    if (rc < 0) {
        ns_grammar_free(g);
        return rc;
    }
    *out = g;
    return NS_OK;
}

int ns_grammar_json_object(ns_grammar **out)
{
    *out = NULL;
    ns_grammar *g = ns_malloc(sizeof *g);
    if (!g) return NS_ENOMEM;
    int rc = ns__gram_init(g);
    if (rc >= 0) g->root = g->any_obj;
    return finish(g, rc, out);
}

int ns_grammar_from_schema(ns_grammar **out, const char *schema_json, size_t len)
{
    *out = NULL;
    if (!schema_json) return ns_err_set(NS_EINVAL, "json schema: none given");
    ns_grammar *g = ns_malloc(sizeof *g);
    if (!g) return NS_ENOMEM;
    int rc = ns__gram_init(g);
    if (rc >= 0) rc = compile_text(g, schema_json, len, NULL, &g->root);
    return finish(g, rc, out);
}

int ns_grammar_tools(ns_grammar **out, const char *const *names, const char *const *param_schemas, int n)
{
    *out = NULL;
    if (n < 1 || !names) return ns_err_set(NS_EINVAL, "tools: no tools given");
    if (n > 1024) return ns_err_set(NS_ETOOBIG, "tools: more than 1024 tools");
    for (int i = 0; i < n; i++) {
        if (!names[i] || !names[i][0] || !ns_utf8_valid(names[i], strlen(names[i])))
            return ns_err_set(NS_EINVAL, "tools: tool %d has no name, or one that is not UTF-8", i);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) return ns_err_set_at(NS_EINVAL, NULL, 0, "name", names[i], "tools: two tools of one name");
    }
    ns_grammar *g = ns_malloc(sizeof *g);
    if (!g) return NS_ENOMEM;
    int rc = ns__gram_init(g);
    int *args = ns_calloc((size_t)n, sizeof(int));
    json_t **nv = ns_calloc((size_t)n, sizeof(json_t *));
    if (!args || !nv) rc = NS_ENOMEM;
    for (int i = 0; i < n && rc >= 0; i++) {
        if (param_schemas && param_schemas[i]) {
            rc = compile_text(g, param_schemas[i], strlen(param_schemas[i]), names[i], &args[i]);
            if (rc < 0) ns_err_wrap("tool '%s'", names[i]);
        } else {
            rc = add_node(g, NS__G_OBJ, &args[i]); /* no parameters: {} */
        }
        if (rc >= 0 && !(nv[i] = json_string(names[i]))) rc = NS_ENOMEM;
    }
    int name_node = 0, root = 0;
    if (rc >= 0) rc = lit_node(g, nv, n, &name_node);
    if (rc >= 0 && g->nodes[name_node].nl != n) rc = ns_err_set(NS_EINTERNAL, "tools: names collapsed");
    if (rc >= 0) rc = add_node(g, NS__G_OBJ, &root);
    if (rc >= 0 && g->ndeps + n > g->cdeps) {
        int *d = ns_realloc(g->deps, sizeof(int) * (size_t)(g->ndeps + n));
        if (!d) rc = NS_ENOMEM;
        else g->deps = d, g->cdeps = g->ndeps + n;
    }
    if (rc >= 0) {
        ns__gnode *r = &g->nodes[root];
        r->dep0 = g->ndeps;
        for (int i = 0; i < n; i++) g->deps[g->ndeps++] = args[i];
        r->sel = 0;
        r->dep = 1;
        r->p0 = g->nprops;
        r->np = 2;
        while (rc >= 0 && g->nprops + 2 > g->cprops) {
            int nc = g->cprops ? g->cprops * 2 : 16;
            void *p = ns_realloc(g->props, sizeof *g->props * (size_t)nc);
            if (!p) rc = NS_ENOMEM;
            else g->props = p, g->cprops = nc;
        }
        if (rc >= 0) {
            g->props[g->nprops++] = (ns__gprop){"name", 4, name_node, 1};
            g->props[g->nprops++] = (ns__gprop){"arguments", 9, args[0], 1};
            g->root = root;
        }
    }
    for (int i = 0; nv && i < n; i++) json_decref(nv[i]);
    free(nv);
    free(args);
    return finish(g, rc, out);
}
