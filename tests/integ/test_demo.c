/* test_demo.c — `northstar demo` runs end to end: trains, saves, reloads. */
#include "harness.h"

TEST(demo_trains_and_reloads)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s demo --quiet --steps 1500 --out %s", ns_test_northstar_bin(),
             ns_test_tmpfile("demo.safetensors"));
    int st = ns_test_run(cmd, &out);
    printf("%s", out);
    ASSERT_EQ_INT(st, 0);
    ASSERT(strstr(out, "reloaded model predicts identically"));
    const char *acc = strstr(out, ", test ");
    ASSERT(acc);
    double a = atof(acc + 7);
    ASSERT_MSG(a >= 0.9, "test accuracy %.3f below 0.9", a);
    free(out);
}

TEST(demo_usage_errors)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s demo --steps abc", ns_test_northstar_bin());
    char *out = NULL;
    ASSERT_EQ_INT(ns_test_run(cmd, &out), 2);
    ASSERT(strstr(out, "--steps"));
    free(out);
}
