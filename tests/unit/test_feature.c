/*
 * test_feature.c — feature specs: every transform against hand-computed
 * values, vocabularies (min_count, OOV, missing), hashing, buckets (given
 * and fitted quantiles), crosses, multi-valued bags, the fitted spec's JSON
 * round trip (identical features at train and predict time), and bad input
 * (file, line and column named).
 */
#include "harness.h"
#include "northstar/feature.h"

#include <math.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static ns_feature_spec *spec_from(const char *json)
{
    ns_feature_spec *s;
    ASSERT_OK(ns_fspec_parse(&s, json, strlen(json), "test-spec"));
    return s;
}

/* Fit on `csv` and return the encoded data. */
static ns_feature_spec *fit(const char *json, const char *csv, ns_fdata *d)
{
    ns_feature_spec *s = spec_from(json);
    const char *p = ns_test_tmpfile("train.csv");
    write_file(p, csv);
    ASSERT_OK(ns_fdata_read_file(s, p, 1, 1, d));
    return s;
}

TEST(numeric_transforms_hand_computed)
{
    /* x = 0, 3, 8, 15 (and one missing); stage = log1p(x) then zscore */
    const char *json = "{\"label\":\"y\",\"features\":["
                       "{\"name\":\"a\",\"column\":\"x\",\"type\":\"numeric\",\"transforms\":[\"log1p\",\"zscore\"]},"
                       "{\"name\":\"b\",\"column\":\"x\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"clip\",\"min\":1,\"max\":10},\"minmax\"]},"
                       "{\"name\":\"c\",\"column\":\"x\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"pow\",\"p\":0.5}]},"
                       "{\"name\":\"h\",\"column\":\"hour\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"cyclic\",\"period\":24}]}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,hour,y\n0,0,0\n3,6,1\n8,12,0\n15,18,1\n,23,0\n", &d);
    ASSERT_EQ_INT(d.n, 5);
    ASSERT_EQ_INT(d.dense_dim, 5); /* a, b, c, sin, cos */
    double l[4] = {log(1.0), log(4.0), log(9.0), log(16.0)}, mean = 0, var = 0;
    for (int i = 0; i < 4; i++) mean += l[i] / 4;
    for (int i = 0; i < 4; i++) var += (l[i] - mean) * (l[i] - mean) / 4;
    double sd = sqrt(var);
    double clip[4] = {1, 3, 8, 10}; /* min 1, max 10 */
    for (int i = 0; i < 4; i++) {
        const float *r = d.dense + (size_t)i * 5;
        ASSERT_NEAR(r[0], (l[i] - mean) / sd, 1e-6);
        ASSERT_NEAR(r[1], (clip[i] - 1) / 9.0, 1e-6);
        ASSERT_NEAR(r[2], sqrt((double[]){0, 3, 8, 15}[i]), 1e-6);
        double ang = 2 * M_PI * (i * 6) / 24.0;
        ASSERT_NEAR(r[3], sin(ang), 1e-6);
        ASSERT_NEAR(r[4], cos(ang), 1e-6);
    }
    /* the missing row: stage value = fitted mean -> zscore 0; minmax of the
     * mean of the clipped values; pow: fill = mean of sqrt(x) */
    const float *r = d.dense + 4 * 5;
    ASSERT_NEAR(r[0], 0.0, 1e-6);
    ASSERT_NEAR(r[1], ((1 + 3 + 8 + 10) / 4.0 - 1) / 9.0, 1e-6);
    ASSERT_NEAR(r[2], (0 + sqrt(3) + sqrt(8) + sqrt(15)) / 4, 1e-6);
    ASSERT_NEAR(r[3], sin(2 * M_PI * 23 / 24.0), 1e-6);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(pow_is_sign_preserving_and_log1p_domain)
{
    const char *json = "{\"label\":\"y\",\"features\":["
                       "{\"name\":\"p\",\"column\":\"x\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"pow\",\"p\":2}]},"
                       "{\"name\":\"l\",\"column\":\"x\",\"type\":\"numeric\",\"fill\":-7,\"transforms\":[\"log1p\"]}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,y\n-3,0\n2,1\n-1,0\n", &d);
    ASSERT_NEAR(d.dense[0], -9.0, 1e-6);
    ASSERT_NEAR(d.dense[2], 4.0, 1e-6);
    ASSERT_NEAR(d.dense[3], log(3.0), 1e-6);
    /* log1p(-3) and log1p(-1) are outside the domain: the user fill */
    ASSERT_NEAR(d.dense[1], -7.0, 1e-6);
    ASSERT_NEAR(d.dense[5], -7.0, 1e-6);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(nan_inf_and_missing_take_fill)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"x\",\"type\":\"numeric\","
                       "\"buckets\":{\"boundaries\":[0,10]},\"wide\":true}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,y\n2,0\n4,1\nnan,0\ninf,1\n?,0\n-inf,1\n", &d);
    ASSERT_EQ_INT(d.n, 6);
    for (int i = 2; i < 6; i++) ASSERT_NEAR(d.dense[i], 3.0, 1e-6); /* mean of 2 and 4 */
    /* wide: bias + bucket; bucket ids 0 (<0), 1 [0,10), 2 (>=10), 3 missing; block starts at 1 */
    ASSERT_EQ_INT(d.wide_ids[d.wide_off[0] + 1], 1 + 1);
    ASSERT_EQ_INT(d.wide_ids[d.wide_off[2] + 1], 1 + 3);
    ASSERT_EQ_INT(d.wide_ids[d.wide_off[3] + 1], 1 + 3);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(buckets_boundaries_and_quantiles)
{
    const char *json = "{\"label\":\"y\",\"features\":["
                       "{\"name\":\"b\",\"column\":\"x\",\"type\":\"numeric\",\"deep\":false,\"buckets\":{\"boundaries\":[18,25,30]},\"embed\":2},"
                       "{\"name\":\"q\",\"column\":\"x\",\"type\":\"numeric\",\"deep\":false,\"buckets\":{\"quantiles\":4},\"embed\":2}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,y\n10,0\n18,1\n24,0\n25,1\n29,0\n30,1\n40,0\n50,1\n", &d);
    ASSERT_EQ_INT(d.n_emb, 2);
    int want_b[8] = {0, 1, 1, 2, 2, 3, 3, 3};
    for (int i = 0; i < 8; i++) ASSERT_EQ_INT(d.emb_ids[0][i], want_b[i]);
    /* quantiles of the 8 sorted values at 2/8, 4/8, 6/8: 24, 29, 40 */
    int want_q[8] = {0, 0, 1, 1, 2, 2, 3, 3};
    for (int i = 0; i < 8; i++) ASSERT_EQ_INT(d.emb_ids[1][i], want_q[i]);
    ns_flayout lay;
    ns_fspec_layout(s, &lay);
    ASSERT_EQ_INT(lay.emb_card[0], 5); /* 4 buckets + missing */
    ASSERT_EQ_INT(lay.emb_card[1], 5);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(vocab_min_count_oov_missing)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"c\",\"type\":\"categorical\","
                       "\"vocab\":{\"min_count\":2},\"wide\":false,\"embed\":3}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "c,y\nb,0\na,1\nb,0\nz,1\na,0\n?,1\nb,0\n", &d);
    /* counts: b 3, a 2, z 1 (dropped) -> ids b 2, a 3; z -> 0 (OOV); ? -> 1 */
    int want[7] = {2, 3, 2, 0, 3, 1, 2};
    for (int i = 0; i < 7; i++) ASSERT_EQ_INT(d.emb_ids[0][i], want[i]);
    /* unseen at predict time: OOV */
    ns_fvalue v = {"never-seen", 10, 0};
    ns_fdata p;
    ASSERT_OK(ns_fdata_init(&p, s));
    ASSERT_OK(ns_fspec_encode(s, &v, NAN, 1, &p));
    ASSERT_EQ_INT(p.emb_ids[0][0], 0);
    ns_fdata_release(&p);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(hashing_and_crosses)
{
    const char *json = "{\"label\":\"y\",\"features\":["
                       "{\"name\":\"h\",\"type\":\"categorical\",\"hash_buckets\":50},"
                       "{\"name\":\"c\",\"type\":\"categorical\"},"
                       "{\"name\":\"x\",\"type\":\"cross\",\"cross\":[\"h\",\"c\"],\"hash_buckets\":7}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "h,c,y\nfoo,a,0\nbar,b,1\nfoo,a,1\n,b,0\n", &d);
    ns_flayout lay;
    ns_fspec_layout(s, &lay);
    /* wide: bias(1) + h (51) + c (2 + 2) + cross (7) */
    ASSERT_EQ_INT(lay.wide_dim, 1 + 51 + 4 + 7);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(d.wide_off[i + 1] - d.wide_off[i], 4);
    const int32_t *w = d.wide_ids;
    ASSERT_EQ_INT(w[0], 0);
    ASSERT_EQ_INT(w[1], 1 + 1 + (int)(ns_hash_bytes("foo", 3, 0x6e73686173680000ULL) % 50));
    ASSERT_EQ_INT(w[13], 1 + 0); /* missing hashed value: id 0 */
    ASSERT_EQ_INT(w[0 * 4 + 1], w[2 * 4 + 1]); /* same value, same bucket */
    ASSERT_EQ_INT(w[0 * 4 + 3], w[2 * 4 + 3]); /* same pair, same cross */
    int32_t comp[2] = {w[1] - 1, 2 + 1};       /* h id, c id of 'a' (a and b tie on count: byte order) */
    ASSERT_EQ_INT(w[2], 1 + 51 + 2);           /* 'a' is vocab id 0 -> feature id 2 */
    ASSERT_EQ_INT(w[3], 1 + 51 + 4 + (int)(ns_hash_bytes((int32_t[]){comp[0], 2}, 8, 0x6e7374726f737321ULL) % 7));
    for (int i = 0; i < 4; i++) ASSERT(w[i * 4 + 3] >= 56 && w[i * 4 + 3] < 63);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(multi_valued_bags)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"g\",\"type\":\"multi\",\"sep\":\"|\",\"embed\":4}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "g,y\nAction|Comedy,1\nComedy,0\n,1\nDrama|Action|Comedy,0\n", &d);
    /* counts: Comedy 3, Action 2, Drama 1 -> ids 2, 3, 4 */
    ASSERT_EQ_INT(d.emb_off[0][1], 2);
    ASSERT_EQ_INT(d.emb_off[0][2], 3);
    ASSERT_EQ_INT(d.emb_off[0][3], 3); /* missing: empty bag */
    ASSERT_EQ_INT(d.emb_off[0][4], 6);
    int want[6] = {3, 2, 2, 4, 3, 2};
    for (int i = 0; i < 6; i++) ASSERT_EQ_INT(d.emb_ids[0][i], want[i]);
    /* wide multi-hot: bias + 2 for row 0 */
    ASSERT_EQ_INT(d.wide_off[1], 3);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(deep_onehot)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"c\",\"type\":\"categorical\",\"wide\":false,\"deep_onehot\":true}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "c,y\nx,0\ny,1\nx,1\n", &d);
    ASSERT_EQ_INT(d.dense_dim, 4); /* oov, missing, x, y */
    float want[12] = {0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0};
    ASSERT_CLOSE("onehot", d.dense, want, 12, 0, 0);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

/* The fitted spec, serialised and parsed back (what a model file carries),
 * encodes every row exactly as the spec that was fitted. */
TEST(fitted_spec_roundtrip_identical_features)
{
    const char *json = "{\"label\":{\"column\":\"y\",\"positive\":[\"yes\"],\"negative\":[\"no\"]},\"features\":["
                       "{\"name\":\"a\",\"type\":\"numeric\",\"transforms\":[\"log1p\",\"zscore\"],\"buckets\":{\"quantiles\":3},\"embed\":2},"
                       "{\"name\":\"c\",\"type\":\"categorical\",\"embed\":3},"
                       "{\"name\":\"g\",\"type\":\"multi\",\"embed\":2},"
                       "{\"name\":\"x\",\"type\":\"cross\",\"cross\":[\"a\",\"c\"],\"hash_buckets\":11}]}";
    const char *csv = "a,c,g,y\n1,p,u|v,yes\n5,q,v,no\n,p,,yes\n20,r,w|u,no\n7,\"p\",u,yes\n";
    ns_fdata d1, d2;
    ns_feature_spec *s = fit(json, csv, &d1);
    char *fj = ns_fspec_to_json(s);
    ASSERT(fj);
    ns_feature_spec *s2 = spec_from(fj);
    ASSERT(ns_fspec_is_fitted(s2));
    ASSERT_OK(ns_fdata_read_file(s2, ns_test_tmpfile("train.csv"), 0, 1, &d2));
    ASSERT_EQ_INT(d1.n, d2.n);
    ASSERT_EQ_INT(d1.wide_nnz, d2.wide_nnz);
    ASSERT(!memcmp(d1.wide_ids, d2.wide_ids, sizeof(int32_t) * (size_t)d1.wide_nnz));
    ASSERT(!memcmp(d1.wide_vals, d2.wide_vals, sizeof(float) * (size_t)d1.wide_nnz));
    ASSERT(!memcmp(d1.dense, d2.dense, sizeof(float) * (size_t)d1.n * (size_t)d1.dense_dim));
    for (int f = 0; f < d1.n_emb; f++) {
        ASSERT_EQ_INT(d1.emb_nnz[f], d2.emb_nnz[f]);
        ASSERT(!memcmp(d1.emb_ids[f], d2.emb_ids[f], sizeof(int32_t) * (size_t)d1.emb_nnz[f]));
    }
    ASSERT(!memcmp(d1.label, d2.label, sizeof(float) * (size_t)d1.n));
    /* serialising the re-parsed spec gives the same text */
    char *fj2 = ns_fspec_to_json(s2);
    ASSERT_STREQ(fj, fj2);
    /* and the value API (serving) gives the same row as the file reader */
    ns_fdata d3;
    ASSERT_OK(ns_fdata_init(&d3, s2));
    ns_fvalue v[3] = {{NULL, 0, 20.0}, {"r", 1, 0}, {"w|u", 3, 0}};
    ASSERT_EQ_INT(ns_fspec_input_index(s2, "g"), 2);
    ASSERT_OK(ns_fspec_encode(s2, v, 0, 1, &d3));
    ASSERT_EQ_INT(d3.wide_off[1], d1.wide_off[4] - d1.wide_off[3]);
    ASSERT(!memcmp(d3.wide_ids, d1.wide_ids + d1.wide_off[3], sizeof(int32_t) * (size_t)d3.wide_off[1]));
    ASSERT(!memcmp(d3.dense, d1.dense + 3 * d1.dense_dim, sizeof(float) * (size_t)d1.dense_dim));
    free(fj);
    free(fj2);
    ns_fdata_release(&d1);
    ns_fdata_release(&d2);
    ns_fdata_release(&d3);
    ns_fspec_free(s);
    ns_fspec_free(s2);
}

TEST(adult_format_lines)
{
    const char *json = "{\"format\":\"adult\",\"features\":[{\"name\":\"age\",\"type\":\"numeric\"},"
                       "{\"name\":\"workclass\",\"type\":\"categorical\",\"embed\":2}]}";
    const char *text =
        "|1x3 Cross validator\n"
        "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K.\n"
        "\n"
        "50, ?, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, >50K.\n";
    ns_fdata d;
    ns_feature_spec *s = fit(json, text, &d);
    ASSERT_EQ_INT(d.n, 2);
    ASSERT_NEAR(d.label[0], 0, 0);
    ASSERT_NEAR(d.label[1], 1, 0);
    ASSERT_EQ_INT(d.emb_ids[0][0], 2); /* State-gov */
    ASSERT_EQ_INT(d.emb_ids[0][1], 1); /* ? = missing */
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(criteo_format)
{
    const char *json = "{\"format\":\"criteo\",\"features\":[{\"name\":\"I1\",\"type\":\"numeric\",\"transforms\":[\"log1p\"]},"
                       "{\"name\":\"C1\",\"type\":\"categorical\",\"hash_buckets\":100,\"embed\":4}]}";
    char row1[512] = "1\t3", row2[512] = "0\t";
    for (int i = 2; i <= 13; i++) strcat(row1, "\t1"), strcat(row2, "\t");
    strcat(row1, "\t68fd1e64");
    strcat(row2, "\t");
    for (int i = 2; i <= 26; i++) strcat(row1, "\tabc"), strcat(row2, "\t");
    char text[1200];
    snprintf(text, sizeof text, "%s\n%s\n", row1, row2);
    ns_fdata d;
    ns_feature_spec *s = fit(json, text, &d);
    ASSERT_EQ_INT(d.n, 2);
    ASSERT_NEAR(d.label[0], 1, 0);
    ASSERT_NEAR(d.dense[0], log(4.0), 1e-6);
    ASSERT_NEAR(d.dense[1], log(4.0), 1e-6); /* missing: fill = training mean */
    ASSERT_EQ_INT(d.emb_ids[0][1], 0);       /* empty categorical: missing id */
    ASSERT(d.emb_ids[0][0] >= 1 && d.emb_ids[0][0] <= 100);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

TEST(bad_input_names_file_line_column)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"x\",\"type\":\"numeric\"},{\"name\":\"c\",\"type\":\"categorical\"}]}";
    ns_feature_spec *s = spec_from(json);
    const char *p = ns_test_tmpfile("bad.csv");
    ns_fdata d;
    write_file(p, "x,c,y\n1,a,0\n2,b\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ASSERT(strstr(ns_err_msg(), "expected 3 columns, found 2"));
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "x,c,y\n1,a,0\n2,b,1,9\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "x,c,y\n1,a,0\n\n12abc,b,1\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 4);
    ASSERT_STREQ(ns_err_last()->field, "x");
    ASSERT_STREQ(ns_err_last()->value, "12abc");
    ASSERT(strstr(ns_err_msg(), "bad.csv:4"));
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "x,c,y\n1,a,maybe\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "y");
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "x,zz,y\n1,a,0\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "'c'"));
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "x,c,y\n1,\"a,0\n");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ns_fspec_free(s);
    s = spec_from(json);
    write_file(p, "");
    ASSERT_ERR(ns_fdata_read_file(s, p, 1, 1, &d), NS_EFORMAT);
    ns_fspec_free(s);
}

TEST(bad_specs_rejected)
{
    static const char *bad[] = {
        "[]",
        "{\"features\":[]}",
        "{\"features\":[{\"name\":\"a\"}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"numeric\",\"transforms\":[\"sqrt\"]}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"cyclic\",\"period\":0}]}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"numeric\",\"buckets\":{\"boundaries\":[3,1]}}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"numeric\",\"wide\":true}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"categorical\"},{\"name\":\"x\",\"type\":\"cross\",\"cross\":[\"a\",\"b\"]}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"categorical\"},{\"name\":\"a\",\"type\":\"categorical\"}]}",
        "{\"format\":\"xml\",\"features\":[{\"name\":\"a\",\"type\":\"categorical\"}]}",
        "{\"features\":[{\"name\":\"a\",\"type\":\"categorical\",\"hash_buckets\":0}]}",
        "{\"features\": [",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_feature_spec *s = NULL;
        int rc = ns_fspec_parse(&s, bad[i], strlen(bad[i]), "bad-spec");
        ASSERT_MSG(rc < 0 && !s, "spec %zu was accepted: %s", i, bad[i]);
        printf("  spec %zu: %s\n", i, ns_err_msg());
    }
}

/* The decimal fast path gives strtod's double exactly (checked through an
 * untransformed numeric feature on random decimals, with and without fraction). */
TEST(number_parsing_matches_strtod)
{
    const char *json = "{\"label\":\"y\",\"features\":[{\"name\":\"x\",\"type\":\"numeric\",\"wide_value\":true}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,y\n1,0\n2,1\n", &d);
    ns_fdata_release(&d);
    ASSERT_OK(ns_fdata_init(&d, s));
    ns_rng r;
    ns_rng_seed(&r, 42, 0);
    static const char *fixed[] = {"0", "-0", "+5", ".5", "5.", "0.1", "123456789012345", "1234567890123456",
                                  "1e3", "-2.5E-3", "0.30000000000000004", "9007199254740993", "007"};
    int n = 0;
    char txt[64];
    for (int i = 0; i < 2000; i++) {
        if (i < (int)(sizeof fixed / sizeof fixed[0])) snprintf(txt, sizeof txt, "%s", fixed[i]);
        else {
            int k = (int)ns_rng_below(&r, 8);
            snprintf(txt, sizeof txt, "%.*f", k, (ns_rng_uniform(&r) - 0.5) * pow(10, (double)ns_rng_below(&r, 12)));
        }
        ns_fvalue v = {txt, (int)strlen(txt), 0};
        ns_fdata_clear(&d);
        ASSERT_OK(ns_fspec_encode(s, &v, 0, 1, &d));
        double want = strtod(txt, NULL);
        /* wide index 1 carries the value as float */
        ASSERT_MSG(d.wide_vals[1] == (float)want, "'%s': %.9g vs %.9g", txt, d.wide_vals[1], want);
        n++;
    }
    ASSERT_EQ_INT(n, 2000);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}

/* Malformed input never crashes: random lines built from separators,
 * quotes, digits, letters and NA tokens either encode or fail with a
 * message that names the file and a line. */
TEST(fuzz_random_rows)
{
    const char *json = "{\"label\":{\"column\":\"y\",\"positive\":[\"1\"],\"negative\":[\"0\"]},\"features\":["
                       "{\"name\":\"x\",\"type\":\"numeric\",\"transforms\":[\"log1p\",\"zscore\"],\"buckets\":{\"quantiles\":3}},"
                       "{\"name\":\"c\",\"type\":\"categorical\",\"embed\":2},{\"name\":\"g\",\"type\":\"multi\",\"embed\":2},"
                       "{\"name\":\"k\",\"type\":\"cross\",\"cross\":[\"x\",\"c\"],\"hash_buckets\":5}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "x,c,g,y\n1,a,p|q,1\n2,b,q,0\n", &d);
    ns_fdata_release(&d);
    static const char alphabet[] = ",,,\"\"|| 0123456789.-eE?anNiIf\t\r";
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    const char *p = ns_test_tmpfile("fuzz.csv");
    int ok = 0, bad = 0;
    for (int round = 0; round < 300; round++) {
        FILE *f = fopen(p, "wb");
        ASSERT(f);
        fputs("x,c,g,y\n", f);
        int lines = 1 + (int)ns_rng_below(&r, 4);
        for (int l = 0; l < lines; l++) {
            int structured = ns_rng_below(&r, 2) == 0; /* four fields of random text */
            for (int fld = 0; fld < (structured ? 4 : 1); fld++) {
                int len = (int)ns_rng_below(&r, structured ? 4 : 24);
                if (fld) fputc(',', f);
                for (int i = 0; i < len; i++) {
                    char ch = alphabet[ns_rng_below(&r, sizeof alphabet - 1)];
                    fputc(structured && (ch == ',' || ch == '"') ? '1' : ch, f);
                }
            }
            fputc('\n', f);
        }
        fclose(f);
        ns_fdata e;
        int rc = ns_fdata_read_file(s, p, 0, ns_rng_below(&r, 2), &e);
        if (rc == 0) {
            ok++;
            ns_fdata_release(&e);
        } else {
            bad++;
            ASSERT_MSG(strstr(ns_err_msg(), "fuzz.csv"), "message does not name the file: %s", ns_err_msg());
        }
    }
    printf("  %d inputs encoded, %d refused\n", ok, bad);
    ASSERT(bad > 0);
    ns_fspec_free(s);
}

TEST(tsv_without_header_and_csv_quotes)
{
    const char *json = "{\"format\":\"tsv\",\"header\":false,\"columns\":[\"y\",\"n\",\"c\"],\"label\":\"y\","
                       "\"features\":[{\"name\":\"n\",\"type\":\"numeric\"},{\"name\":\"c\",\"type\":\"categorical\",\"embed\":2}]}";
    ns_fdata d;
    ns_feature_spec *s = fit(json, "1\t2.5\tred\n0\t\tblue\n", &d);
    ASSERT_EQ_INT(d.n, 2);
    ASSERT_NEAR(d.label[0], 1, 0);
    ASSERT_NEAR(d.dense[0], 2.5, 1e-6);
    ASSERT_NEAR(d.dense[1], 2.5, 1e-6); /* missing -> mean */
    ns_fdata_release(&d);
    ns_fspec_free(s);
    /* CSV: quoted fields with separators and doubled quotes, CRLF line ends */
    const char *json2 = "{\"label\":\"y\",\"features\":[{\"name\":\"c\",\"type\":\"categorical\",\"embed\":2}]}";
    s = fit(json2, "c,y\r\n\"a, \"\"b\"\"\",1\r\n\"a, \"\"b\"\"\",0\r\nz,1\r\n", &d);
    ASSERT_EQ_INT(d.n, 3);
    ASSERT_EQ_INT(d.emb_ids[0][0], 2); /* 'a, "b"' is the most frequent value */
    ASSERT_EQ_INT(d.emb_ids[0][1], 2);
    ASSERT_EQ_INT(d.emb_ids[0][2], 3);
    char *j = ns_fspec_to_json(s);
    ASSERT(strstr(j, "a, \\\"b\\\""));
    free(j);
    ns_fdata_release(&d);
    ns_fspec_free(s);
}
