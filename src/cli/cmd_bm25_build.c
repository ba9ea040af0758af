/*
 * cmd_bm25_build.c — `northstar bm25 build`: a BM25 keyword index
 * (include/northstar/bm25.h) from JSON-lines or tab-separated documents,
 * with field weights and a Snowball stemmer, saved as safetensors.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bm25.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar bm25 build -i DOCS -o INDEX [options]\n"
    "\n"
    "DOCS is JSON lines ({\"id\": 12, \"title\": \"...\", \"body\": \"...\"}; ids are\n"
    "integers 0..4294967295, fields named as below) or, for any other extension,\n"
    "tab-separated lines \"ID<TAB>field1<TAB>field2...\".\n"
    "\n"
    "  -i, --input FILE       documents\n"
    "  -o, --output FILE      index file to write (safetensors)\n"
    "      --k1 X             term-frequency saturation (default 1.2)\n"
    "      --b X              length normalisation 0..1 (default 0.75)\n"
    "      --field NAME=W     a field and its weight, repeat in order\n"
    "                         (default: --field title=1 --field body=1)\n"
    "      --stem LANG        Snowball stemmer, or 'none' (default english)\n"
    "      --json             print the index's stats as a JSON object\n"
    "  -q, --quiet            no timing line\n";

typedef struct {
    int n;
    char names[NS_BM25_MAX_FIELDS][32];
    double weights[NS_BM25_MAX_FIELDS];
} field_list;

typedef struct {
    const char *in, *out, *stem;
    double k1, b;
    field_list fields;
    int json;
} build_opts;

/* --field NAME=WEIGHT, appended to the list. */
static int parse_field(const char *cmd, const char *opt, const char *arg, void *field)
{
    field_list *l = field;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof l->names[0])
        return cli_usage_error(cmd, "%s expects NAME=WEIGHT, got '%s'", opt, arg);
    if (l->n == NS_BM25_MAX_FIELDS) return cli_usage_error(cmd, "at most %d fields", NS_BM25_MAX_FIELDS);
    snprintf(l->names[l->n], sizeof l->names[0], "%.*s", (int)(eq - arg), arg);
    if (cli_double(cmd, opt, eq + 1, 1e-6, 1000, &l->weights[l->n])) return CLI_USAGE;
    l->n++;
    return 0;
}

static const cli_opt opts[] = {
    CLI_STR("input", 'i', build_opts, in),
    CLI_OPT_OUTPUT(build_opts, out),
    CLI_DOUBLE("k1", 0, build_opts, k1, 0, 100),
    CLI_DOUBLE("b", 0, build_opts, b, 0, 1),
    CLI_CALL("field", 0, build_opts, fields, field_list, parse_field),
    CLI_STR("stem", 0, build_opts, stem),
    CLI_OPT_JSON(build_opts, json),
};

/* One document from a JSON line or a TSV line into (id, fields). */
static int parse_doc(const ns_bm25_params *p, const char *path, long lineno, char *line, size_t len, int jsonl,
                     uint32_t *id, const char **fields, size_t *lens, json_t **hold)
{
    *hold = NULL;
    for (int f = 0; f < p->nfields; f++) fields[f] = NULL, lens[f] = 0;
    if (jsonl) {
        json_error_t je;
        json_t *j = json_loadb(line, len, 0, &je);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            return ns_err_set_at(NS_EFORMAT, path, lineno, NULL, NULL, "not a JSON object: %s", j ? "" : je.text);
        }
        json_t *jid = json_object_get(j, "id");
        if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) > (json_int_t)UINT32_MAX) {
            json_decref(j);
            return ns_err_set_at(NS_EFORMAT, path, lineno, "id", NULL, "\"id\" must be an integer 0..4294967295");
        }
        *id = (uint32_t)json_integer_value(jid);
        for (int f = 0; f < p->nfields; f++) {
            json_t *v = json_object_get(j, p->field_names[f]);
            if (!v || json_is_null(v)) continue;
            if (!json_is_string(v)) {
                json_decref(j);
                return ns_err_set_at(NS_EFORMAT, path, lineno, p->field_names[f], NULL, "field must be a string");
            }
            fields[f] = json_string_value(v);
            lens[f] = json_string_length(v);
        }
        *hold = j;
        return NS_OK;
    }
    line[len] = 0;
    char *cols[NS_BM25_MAX_FIELDS + 1];
    int nc = ns_split(line, '\t', cols, NS_BM25_MAX_FIELDS + 1);
    char *end;
    unsigned long long v = strtoull(cols[0], &end, 10);
    if (!*cols[0] || *end || v > UINT32_MAX || cols[0][0] == '-')
        return ns_err_set_at(NS_EFORMAT, path, lineno, "id", cols[0], "expected an integer id 0..4294967295");
    if (nc - 1 > p->nfields)
        return ns_err_set_at(NS_EFORMAT, path, lineno, NULL, NULL, "%d fields, the index has %d", nc - 1, p->nfields);
    *id = (uint32_t)v;
    for (int f = 0; f + 1 < nc; f++) {
        fields[f] = cols[f + 1];
        lens[f] = strlen(cols[f + 1]);
    }
    return NS_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static ns_bm25_params params_of(const build_opts *o)
{
    ns_bm25_params p = ns_bm25_defaults();
    p.k1 = (float)o->k1;
    p.b = (float)o->b;
    if (o->fields.n) {
        p.nfields = o->fields.n;
        for (int f = 0; f < o->fields.n; f++) {
            snprintf(p.field_names[f], sizeof p.field_names[f], "%s", o->fields.names[f]);
            p.field_weights[f] = (float)o->fields.weights[f];
        }
    }
    if (o->stem) snprintf(p.stem, sizeof p.stem, "%s", strcmp(o->stem, "none") ? o->stem : "");
    return p;
}

/* Add every document of buf (the file `path`) to ix; the count in *ndocs. */
static int add_docs(ns_bm25 *ix, const ns_bm25_params *p, const char *path, char *buf, size_t len, size_t *ndocs)
{
    int jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json");
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *line;
    size_t ll;
    int rc = NS_OK;
    ns_progress pr;
    ns_progress_begin(&pr, "bm25 build", (double)len, "bytes");
    while (ns_lines_next(&it, &line, &ll)) {
        if (ll == 0) continue;
        uint32_t id = 0;
        const char *fields[NS_BM25_MAX_FIELDS];
        size_t lens[NS_BM25_MAX_FIELDS];
        json_t *hold;
        rc = parse_doc(p, path, it.lineno, (char *)line, ll, jsonl, &id, fields, lens, &hold);
        if (rc >= 0) rc = ns_bm25_add(ix, id, fields, lens);
        json_decref(hold);
        if (rc < 0) break;
        (*ndocs)++;
        ns_progress_set(&pr, (long long)(it.p - buf));
    }
    ns_progress_end(&pr);
    return rc;
}

static int no_text(const ns_bm25 *ix)
{
    ns_bm25_stats st;
    ns_bm25_get_stats(ix, &st);
    return st.postings == 0;
}

int cmd_bm25_build(int argc, char **argv)
{
    build_opts o;
    memset(&o, 0, sizeof o);
    o.k1 = 1.2;
    o.b = 0.75;
    int r = CLI_PARSE(argc, argv, "bm25", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error("bm25", "build takes no positional arguments");
    if (!o.in || !o.out) return cli_usage_error("bm25", "build needs -i DOCS and -o INDEX");
    ns_bm25_params p = params_of(&o);
    double t0 = ns_now();
    char *buf;
    size_t len, ndocs = 0;
    if (ns_file_read_all(o.in, &buf, &len, 0) < 0) return cli_fail("bm25");
    ns_bm25 *ix;
    if (ns_bm25_create(&ix, &p) < 0) {
        free(buf);
        return cli_fail("bm25");
    }
    int rc = add_docs(ix, &p, o.in, buf, len, &ndocs) < 0 ? cli_fail("bm25") : CLI_OK;
    if (rc == CLI_OK && ndocs > 0 && no_text(ix)) { /* nothing would be found: say why, write nothing */
        char names[NS_BM25_MAX_FIELDS * 34] = "";
        for (int f = 0; f < p.nfields; f++) {
            if (f) strcat(names, ", ");
            strcat(names, p.field_names[f]);
        }
        fprintf(stderr, "northstar bm25: %s: no document has text in the indexed fields (%s); name the fields "
                        "the documents hold with --field NAME=W\n", o.in, names);
        rc = CLI_FAIL;
    }
    double t1 = ns_now();
    if (rc == CLI_OK && ns_bm25_save(ix, o.out) < 0) rc = cli_fail("bm25");
    double t2 = ns_now();
    if (rc == CLI_OK) {
        ns_bm25_stats st;
        ns_bm25_get_stats(ix, &st);
        if (o.json)
            printf("{\"docs\":%zu,\"terms\":%zu,\"postings\":%zu,\"avgdl\":%.3f,\"seconds_index\":%.6f,"
                   "\"seconds_total\":%.6f,\"docs_per_second\":%.1f}\n",
                   st.docs, st.terms, st.postings, st.avgdl, t1 - t0, t2 - t0, (double)ndocs / (t2 - t0));
        if (!ns_is_quiet())
            fprintf(stderr, "bm25: %zu documents, %zu terms, %zu postings; read+index %.3f s, total with save %.3f s (%.0f docs/s) -> %s\n",
                    ndocs, st.terms, st.postings, t1 - t0, t2 - t0, (double)ndocs / (t2 - t0), o.out);
    }
    ns_bm25_free(ix);
    free(buf);
    return rc;
}
