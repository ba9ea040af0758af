/*
 * cmd_bm25.c — `northstar bm25 build|search|stats`: BM25 keyword indexes
 * from the command line (library: include/northstar/bm25.h).
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
    "       northstar bm25 search INDEX (-q TEXT | -Q QUERIES) [options]\n"
    "       northstar bm25 stats INDEX [--json]\n"
    "\n"
    "BM25 keyword index over the shared tokenizer (Unicode folding, CJK bigrams,\n"
    "Snowball stemming), with field weights and block-max WAND top-k.\n"
    "\n"
    "DOCS is JSON lines ({\"id\": 12, \"title\": \"...\", \"body\": \"...\"}; ids are\n"
    "integers 0..4294967295, fields named as below) or, for any other extension,\n"
    "tab-separated lines \"ID<TAB>field1<TAB>field2...\".\n"
    "QUERIES has one query a line: \"QID<TAB>text\".\n"
    "\n"
    "build options:\n"
    "  -i, --input FILE       documents\n"
    "  -o, --output FILE      index file to write (safetensors)\n"
    "      --k1 X             term-frequency saturation (default 1.2)\n"
    "      --b X              length normalisation 0..1 (default 0.75)\n"
    "      --field NAME=W     a field and its weight, repeat in order\n"
    "                         (default: --field title=1 --field body=1)\n"
    "      --stem LANG        Snowball stemmer, or 'none' (default english)\n"
    "search options:\n"
    "  -q, --query TEXT       one query\n"
    "  -Q, --queries FILE     many queries\n"
    "  -k N                   results per query (default 10)\n"
    "      --trec RUN         print TREC run lines \"QID Q0 DOC RANK SCORE RUN\"\n"
    "      --exhaustive       score every matching document (no WAND skipping)\n"
    "      --repeat N         run the query set N times (timing); print once\n"
    "      --json             JSON output (build: a stats object)\n"
    "Common: -q is --query here; use --quiet to silence the timing lines.\n";

typedef struct {
    const char *in, *out, *query, *queries, *trec, *stem;
    double k1, b;
    long k, repeat;
    int json, exhaustive, nfields;
    char names[NS_BM25_MAX_FIELDS][32];
    double weights[NS_BM25_MAX_FIELDS];
} opts_t;

static int on_opt(int c, const char *arg, void *ctx)
{
    opts_t *o = ctx;
    switch (c) {
    case 'i': o->in = arg; break;
    case 'o': o->out = arg; break;
    case 'Q': o->queries = arg; break;
    case 'T': o->query = arg; break;
    case 'R': o->trec = arg; break;
    case 's': o->stem = arg; break;
    case 'k': return cli_int("bm25", "-k", arg, 1, 1000000, &o->k);
    case 'r': return cli_int("bm25", "--repeat", arg, 1, 1000000, &o->repeat);
    case '1': return cli_double("bm25", "--k1", arg, 0, 100, &o->k1);
    case 'B': return cli_double("bm25", "--b", arg, 0, 1, &o->b);
    case 'X': o->exhaustive = 1; break;
    case 'J': o->json = 1; break;
    case 'F': {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof o->names[0])
            return cli_usage_error("bm25", "--field expects NAME=WEIGHT, got '%s'", arg);
        if (o->nfields == NS_BM25_MAX_FIELDS) return cli_usage_error("bm25", "at most %d fields", NS_BM25_MAX_FIELDS);
        snprintf(o->names[o->nfields], sizeof o->names[0], "%.*s", (int)(eq - arg), arg);
        if (cli_double("bm25", "--field", eq + 1, 1e-6, 1000, &o->weights[o->nfields])) return CLI_USAGE;
        o->nfields++;
        break;
    }
    }
    return 0;
}

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

static int build(opts_t *o)
{
    if (!o->in || !o->out) return cli_usage_error("bm25", "build needs -i DOCS and -o INDEX");
    ns_bm25_params p = ns_bm25_defaults();
    p.k1 = (float)o->k1;
    p.b = (float)o->b;
    if (o->nfields) {
        p.nfields = o->nfields;
        for (int f = 0; f < o->nfields; f++) {
            snprintf(p.field_names[f], sizeof p.field_names[f], "%s", o->names[f]);
            p.field_weights[f] = (float)o->weights[f];
        }
    }
    if (o->stem) snprintf(p.stem, sizeof p.stem, "%s", strcmp(o->stem, "none") ? o->stem : "");
    double t0 = ns_now();
    char *buf;
    size_t len;
    if (ns_file_read_all(o->in, &buf, &len, 0) < 0) return cli_fail("bm25");
    ns_bm25 *ix;
    if (ns_bm25_create(&ix, &p) < 0) {
        free(buf);
        return cli_fail("bm25");
    }
    int jsonl = ends_with(o->in, ".jsonl") || ends_with(o->in, ".json");
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *line;
    size_t ll;
    size_t ndocs = 0;
    int rc = CLI_OK;
    ns_progress pr;
    ns_progress_begin(&pr, "bm25 build", (double)len, "bytes");
    while (ns_lines_next(&it, &line, &ll)) {
        if (ll == 0) continue;
        uint32_t id = 0;
        const char *fields[NS_BM25_MAX_FIELDS];
        size_t lens[NS_BM25_MAX_FIELDS];
        json_t *hold;
        if (parse_doc(&p, o->in, it.lineno, (char *)line, ll, jsonl, &id, fields, lens, &hold) < 0 ||
            ns_bm25_add(ix, id, fields, lens) < 0) {
            json_decref(hold);
            rc = cli_fail("bm25");
            break;
        }
        json_decref(hold);
        ndocs++;
        ns_progress_set(&pr, (long long)(it.p - buf));
    }
    ns_progress_end(&pr);
    double t1 = ns_now();
    if (rc == CLI_OK && ns_bm25_save(ix, o->out) < 0) rc = cli_fail("bm25");
    double t2 = ns_now();
    if (rc == CLI_OK) {
        ns_bm25_stats st;
        ns_bm25_get_stats(ix, &st);
        if (o->json)
            printf("{\"docs\":%zu,\"terms\":%zu,\"postings\":%zu,\"avgdl\":%.3f,\"seconds_index\":%.6f,"
                   "\"seconds_total\":%.6f,\"docs_per_second\":%.1f}\n",
                   st.docs, st.terms, st.postings, st.avgdl, t1 - t0, t2 - t0, (double)ndocs / (t2 - t0));
        if (!ns_is_quiet())
            fprintf(stderr, "bm25: %zu documents, %zu terms, %zu postings; read+index %.3f s, total with save %.3f s (%.0f docs/s) -> %s\n",
                    ndocs, st.terms, st.postings, t1 - t0, t2 - t0, (double)ndocs / (t2 - t0), o->out);
    }
    ns_bm25_free(ix);
    free(buf);
    return rc;
}

typedef struct { char *qid; const char *text; } query_t;

static int search(const char *path, opts_t *o)
{
    if (!!o->query == !!o->queries) return cli_usage_error("bm25", "search needs exactly one of -q TEXT or -Q QUERIES");
    ns_bm25 *ix;
    if (ns_bm25_load(&ix, path) < 0) return cli_fail("bm25");
    char *buf = NULL;
    query_t *qs = NULL;
    size_t nq = 0;
    int rc = CLI_OK;
    ns_hit *hits = malloc(sizeof(ns_hit) * (size_t)o->k);
    if (o->query) {
        qs = calloc(1, sizeof *qs);
        qs[0].qid = "1";
        qs[0].text = o->query;
        nq = 1;
    } else {
        size_t len;
        if (ns_file_read_all(o->queries, &buf, &len, 0) < 0) {
            rc = cli_fail("bm25");
            goto done;
        }
        ns_lines it;
        ns_lines_init(&it, buf, len);
        const char *line;
        size_t ll, cap = 0;
        while (ns_lines_next(&it, &line, &ll)) {
            if (ll == 0) continue;
            char *l = (char *)line;
            l[ll] = 0;
            char *tab = strchr(l, '\t');
            if (!tab) {
                ns_err_set_at(NS_EFORMAT, o->queries, it.lineno, NULL, NULL, "expected \"QID<TAB>text\"");
                rc = cli_fail("bm25");
                goto done;
            }
            *tab = 0;
            if (nq == cap) {
                cap = cap ? 2 * cap : 256;
                query_t *n2 = realloc(qs, sizeof *qs * cap);
                if (!n2) {
                    ns_err_set(NS_ENOMEM, "out of memory");
                    rc = cli_fail("bm25");
                    goto done;
                }
                qs = n2;
            }
            qs[nq].qid = l;
            qs[nq].text = tab + 1;
            nq++;
        }
    }
    double t0 = ns_now();
    for (long rep = 0; rep < o->repeat; rep++) {
        int last = rep == o->repeat - 1;
        for (size_t i = 0; i < nq; i++) {
            int n = o->exhaustive ? ns_bm25_search_exhaustive(ix, qs[i].text, -1, (int)o->k, NULL, hits)
                                  : ns_bm25_search(ix, qs[i].text, -1, (int)o->k, NULL, hits);
            if (n < 0) {
                rc = cli_fail("bm25");
                goto done;
            }
            if (!last) continue;
            if (o->trec) {
                for (int j = 0; j < n; j++)
                    printf("%s Q0 %u %d %.6f %s\n", qs[i].qid, hits[j].id, j + 1, hits[j].score, o->trec);
            } else if (o->json) {
                ns_buf b;
                ns_buf_init(&b);
                ns_buf_puts(&b, "{\"query\":");
                ns_buf_json_str(&b, qs[i].qid, strlen(qs[i].qid));
                ns_buf_puts(&b, ",\"hits\":[");
                for (int j = 0; j < n; j++) ns_buf_printf(&b, "%s{\"id\":%u,\"score\":%.6f}", j ? "," : "", hits[j].id, hits[j].score);
                ns_buf_puts(&b, "]}");
                puts(b.data);
                ns_buf_release(&b);
            } else {
                for (int j = 0; j < n; j++) printf("%s\t%d\t%u\t%.6f\n", qs[i].qid, j + 1, hits[j].id, hits[j].score);
            }
        }
    }
    double dt = ns_now() - t0;
    if (!ns_is_quiet())
        fprintf(stderr, "bm25: %zu queries x %ld in %.4f s (%.0f queries/s, k %ld, %s; output included)\n", nq, o->repeat, dt,
                (double)nq * (double)o->repeat / (dt > 0 ? dt : 1e-9), o->k, o->exhaustive ? "exhaustive" : "auto: block-max WAND or term-at-a-time");
done:
    free(qs);
    free(buf);
    free(hits);
    ns_bm25_free(ix);
    return rc;
}

static int stats(const char *path, const opts_t *o)
{
    ns_bm25 *ix;
    if (ns_bm25_load(&ix, path) < 0) return cli_fail("bm25");
    const ns_bm25_params *p = ns_bm25_get_params(ix);
    ns_bm25_stats st;
    ns_bm25_get_stats(ix, &st);
    if (o->json) {
        printf("{\"file\":\"%s\",\"docs\":%zu,\"terms\":%zu,\"postings\":%zu,\"avgdl\":%.3f,\"k1\":%g,\"b\":%g,\"stem\":\"%s\",\"fields\":[",
               path, st.docs, st.terms, st.postings, st.avgdl, (double)p->k1, (double)p->b, p->stem);
        for (int f = 0; f < p->nfields; f++)
            printf("%s{\"name\":\"%s\",\"weight\":%g}", f ? "," : "", p->field_names[f], (double)p->field_weights[f]);
        printf("]}\n");
    } else {
        printf("%s: BM25, %zu documents, %zu terms, %zu postings, mean length %.1f\n  k1 %g, b %g, stemmer %s, fields:",
               path, st.docs, st.terms, st.postings, st.avgdl, (double)p->k1, (double)p->b, p->stem[0] ? p->stem : "none");
        for (int f = 0; f < p->nfields; f++) printf(" %s=%g", p->field_names[f], (double)p->field_weights[f]);
        printf("\n");
    }
    ns_bm25_free(ix);
    return CLI_OK;
}

int cmd_bm25(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    o.k1 = 1.2;
    o.b = 0.75;
    o.k = 10;
    o.repeat = 1;
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},   {"output", required_argument, NULL, 'o'},
        {"query", required_argument, NULL, 'T'},   {"queries", required_argument, NULL, 'Q'},
        {"k1", required_argument, NULL, '1'},      {"b", required_argument, NULL, 'B'},
        {"field", required_argument, NULL, 'F'},   {"stem", required_argument, NULL, 's'},
        {"trec", required_argument, NULL, 'R'},    {"repeat", required_argument, NULL, 'r'},
        {"exhaustive", no_argument, NULL, 'X'},    {"json", no_argument, NULL, 'J'},
        {0, 0, 0, 0}};
    /* -q is --query for this command (the common -q/--quiet stays as --quiet) */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-q")) argv[i] = "--query";
    int r = cli_parse(argc, argv, "bm25", usage, "i:o:Q:k:", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("bm25", "missing subcommand (build, search or stats)");
    const char *sub = argv[r++];
    if (!strcmp(sub, "build")) {
        if (r != argc) return cli_usage_error("bm25", "build takes no positional arguments");
        return build(&o);
    }
    if (!strcmp(sub, "search") || !strcmp(sub, "stats")) {
        if (r != argc - 1) return cli_usage_error("bm25", "%s takes exactly one INDEX", sub);
        return sub[1] == 'e' ? search(argv[r], &o) : stats(argv[r], &o);
    }
    return cli_usage_error("bm25", "unknown subcommand '%s' (expected build, search or stats)", sub);
}
