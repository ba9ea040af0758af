/*
 * northstar/base.h — layer 0: errors, logging, arenas, threads, RNG, timers,
 * progress display and small file helpers. Everything above builds on these.
 *
 * Conventions
 *   - Functions that can fail return an int: 0 (NS_OK) on success or a
 *     negative NS_E* code. Before returning a code they record what was wrong
 *     (file, line, field, value, message) with ns_err_set*(); the caller shows
 *     it with ns_err_msg(). The record is per thread.
 *   - Programming errors (broken invariants) assert; asserts stay on in
 *     release builds. User input, I/O and parse failures never abort.
 *   - *_free(NULL) and *_release(NULL) are no-ops.
 *
 * Example
 *   ns_arena a; ns_arena_init(&a, 0);
 *   char *s = ns_arena_strdup(&a, "hello");
 *   char *buf; size_t len;
 *   if (ns_file_read_all("x.txt", &buf, &len, 0) < 0)
 *       ns_log_error("%s", ns_err_msg());  // "x.txt: cannot open: No such file or directory (NS_ENOTFOUND)"
 *   ns_arena_release(&a);
 */
#ifndef NORTHSTAR_BASE_H
#define NORTHSTAR_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Errors                                                                 */
/* ===================================================================== */

/* X(name, code, message). Codes are negative; NS_OK is 0. */
#define NS_ERRNO_MAP(X)                                                   \
    X(NOMEM, -1, "out of memory")                                          \
    X(INVAL, -2, "invalid argument")                                       \
    X(IO, -3, "input/output error")                                        \
    X(FORMAT, -4, "malformed input")                                       \
    X(RANGE, -5, "value out of range")                                     \
    X(NOTFOUND, -6, "not found")                                           \
    X(EXISTS, -7, "already exists")                                        \
    X(UNSUPPORTED, -8, "not supported")                                    \
    X(TRUNCATED, -9, "truncated input")                                    \
    X(MISMATCH, -10, "shape or size mismatch")                             \
    X(TOOBIG, -11, "too large")                                            \
    X(BUSY, -12, "resource busy")                                          \
    X(TIMEOUT, -13, "timed out")                                           \
    X(CANCELED, -14, "canceled")                                           \
    X(USAGE, -15, "usage error")                                           \
    X(INTERNAL, -16, "internal error")

enum {
    NS_OK = 0,
#define NS__ERR_ENUM(name, code, msg) NS_E##name = code,
    NS_ERRNO_MAP(NS__ERR_ENUM)
#undef NS__ERR_ENUM
#define NS__ERR_ONE(name, code, msg) +1
    NS_E__COUNT = 1 NS_ERRNO_MAP(NS__ERR_ONE) /* number of codes including NS_OK */
#undef NS__ERR_ONE
};

/* Message for a code ("unknown error" for codes not in the map). */
const char *ns_strerror(int code);
/* Symbolic name for a code, e.g. "NS_EFORMAT". */
const char *ns_errname(int code);

/* What went wrong, recorded by the function that failed (per thread). */
typedef struct ns_error_info {
    int code;            /* NS_E* or NS_OK */
    char file[256];      /* input file involved, "" if none */
    long line;           /* 1-based line/record in that file, 0 if none */
    char field[64];      /* column, key or option involved, "" if none */
    char value[128];     /* offending value (truncated), "" if none */
    char msg[512];       /* human sentence */
} ns_error_info;

/* Record an error and return its code, so `return ns_err_set(...)` works. */
int ns_err_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, naming the file, line (0 = none), field and value (NULL = none). */
int ns_err_set_at(int code, const char *file, long line, const char *field,
                  const char *value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Prefix the recorded message with more context ("loading model: ...").
 * Returns the recorded code. */
int ns_err_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole record, and a one-line rendering of it (parts that are empty
 * are left out): "file:line: field 'value': message (NS_EFORMAT)", e.g.
 * "m.safetensors: tensor 'wte': unknown dtype \"F8\" (NS_EUNSUPPORTED)".
 * Values longer than the record's fields end in "...". */
const ns_error_info *ns_err_last(void);
const char *ns_err_msg(void);
void ns_err_clear(void);

/* ===================================================================== */
/* Logging                                                                */
/* ===================================================================== */

typedef enum { NS_LOG_ERROR = 0, NS_LOG_WARN, NS_LOG_INFO, NS_LOG_DEBUG } ns_log_level;

/* Level from $NS_LOG (error|warn|info|debug) at first use; default info. */
void ns_log_set_level(ns_log_level lvl);
ns_log_level ns_log_get_level(void);
/* Quiet: only errors are logged and progress displays are silent. */
void ns_set_quiet(int quiet);
int ns_is_quiet(void);
void ns_log(ns_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ns_vlog(ns_log_level lvl, const char *fmt, va_list ap);
#define ns_log_error(...) ns_log(NS_LOG_ERROR, __VA_ARGS__)
#define ns_log_warn(...) ns_log(NS_LOG_WARN, __VA_ARGS__)
#define ns_log_info(...) ns_log(NS_LOG_INFO, __VA_ARGS__)
#define ns_log_debug(...) ns_log(NS_LOG_DEBUG, __VA_ARGS__)

/* ===================================================================== */
/* Memory                                                                 */
/* ===================================================================== */

/* malloc/calloc/realloc that record NS_ENOMEM (with the size) on failure. */
void *ns_malloc(size_t n);
void *ns_calloc(size_t count, size_t size);
void *ns_realloc(void *p, size_t n);
/* 64-byte aligned allocation for kernels; free with ns_free_aligned. */
void *ns_malloc_aligned(size_t n);
void ns_free_aligned(void *p);
char *ns_strdup(const char *s);

/* Arena: a chain of blocks; everything allocated in it is freed at once.
 * Use for anything with a request or batch lifetime. Not thread-safe. */
typedef struct ns_arena_block ns_arena_block;
typedef struct ns_arena {
    ns_arena_block *head;  /* current block (newest) */
    size_t block_size;     /* default size of new blocks */
    size_t used_total;     /* bytes handed out since init/reset */
} ns_arena;
typedef struct ns_arena_mark {
    ns_arena_block *block;
    size_t used;
    size_t used_total;
} ns_arena_mark;

void ns_arena_init(ns_arena *a, size_t block_size); /* 0 = 64 KiB */
/* align: a power of two up to 4096, 0 = 16. Returns NULL and records
 * NS_ENOMEM when out of memory (NS_EINVAL for a bad alignment). */
void *ns_arena_alloc(ns_arena *a, size_t size, size_t align);
void *ns_arena_calloc(ns_arena *a, size_t count, size_t size);
char *ns_arena_strdup(ns_arena *a, const char *s);
char *ns_arena_strndup(ns_arena *a, const char *s, size_t n);
char *ns_arena_sprintf(ns_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ns_arena_mark ns_arena_save(const ns_arena *a);
void ns_arena_rewind(ns_arena *a, ns_arena_mark m); /* frees newer blocks */
void ns_arena_reset(ns_arena *a);                   /* keeps the first block */
void ns_arena_release(ns_arena *a);                 /* frees everything */

/* ===================================================================== */
/* Threads — the one policy                                               */
/* ===================================================================== */
/*
 * northstar uses OpenMP for all data parallelism and links the OpenMP build
 * of OpenBLAS. Kernels parallelise with `#pragma omp parallel for` and so
 * does OpenBLAS: inside an active parallel region (more than one thread) a
 * BLAS call runs on the calling thread; anywhere else it uses the calling
 * thread's OpenMP thread count (omp_get_max_threads(), a per-thread value).
 * The team size is ns_threads(): $NS_THREADS, else the CPUs this process may
 * run on; ns_set_threads() sets it for the calling thread (OpenMP and
 * OpenBLAS) — call it from the main thread before starting work.
 *
 * Threads that OpenMP did not create (HTTP workers, background jobs) start
 * with OpenMP's default count, so a kernel or BLAS call there would fork a
 * team of its own per thread and oversubscribe the cores: such threads call
 * ns_thread_init_worker(1) first (one request = one core; the server's
 * concurrency comes from its many workers), or a larger count for a
 * background job that should use the machine. The same applies inside a
 * `num_threads(1)` region, where omp_in_parallel() is false: code that wants
 * BLAS single-threaded there calls ns_thread_init_worker(1) too.
 */
int ns_threads(void);
void ns_set_threads(int n); /* n <= 0: back to the default */
int ns_cpu_count(void);
/* Set the calling thread's OpenMP (and so BLAS) thread count; n <= 0 means
 * ns_threads(). Returns the previous count so callers can restore it. */
int ns_thread_init_worker(int n);

/* A barrier for a team that meets many times a millisecond (the decoder's
 * threads meet five times per layer per token), where an OpenMP barrier
 * under OMP_WAIT_POLICY=PASSIVE sleeps in the kernel at once and the wake-up
 * costs as much as the work between meetings. A waiting thread spins up to
 * its budget, then sleeps on a futex. Each thread's budget adapts: it
 * doubles (up to 4096 pauses) when spinning was enough and shrinks by a
 * quarter (down to 8) when the thread had to sleep anyway, so on free cores
 * partners meet within microseconds, and beside other jobs, where the
 * partner is often descheduled, the barrier behaves like a sleeping one.
 * Zero-initialise the barrier; each thread of a meeting joins with its
 * budget from last time (0 = the default) and keeps seat.spin afterwards. */
typedef struct ns_barrier {
    _Atomic int count;    /* arrivals in the current round */
    _Atomic int sense;    /* flips when a round completes */
    _Atomic int sleepers; /* threads asleep on the futex */
} ns_barrier;
typedef struct ns_barrier_seat {
    int sense; /* the barrier's sense when this thread last passed */
    int spin;  /* this thread's spin budget */
} ns_barrier_seat;
ns_barrier_seat ns_barrier_join(ns_barrier *b, int spin);
/* Wait until all n threads of the team have called it. */
void ns_barrier_wait(ns_barrier *b, int n, ns_barrier_seat *seat);

/* ===================================================================== */
/* Random numbers                                                         */
/* ===================================================================== */
/*
 * xoshiro256** seeded through splitmix64. A (seed, stream) pair names an
 * independent sequence: parallel code gives each work item (not each
 * thread) its own stream so results depend on the seed and on how the work
 * is cut, never on scheduling.
 */
typedef struct ns_rng { uint64_t s[4]; } ns_rng;

void ns_rng_seed(ns_rng *r, uint64_t seed, uint64_t stream);
/* One xoshiro256** step; inline because hot loops (word2vec, walks) draw
 * several numbers per token and a call per draw shows in their profiles. */
static inline uint64_t ns_rng_u64(ns_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
uint32_t ns_rng_u32(ns_rng *r);
uint64_t ns_rng_below(ns_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n > 0 (asserted) */
double ns_rng_uniform(ns_rng *r);             /* [0, 1) with 53 bits */
float ns_rng_uniformf(ns_rng *r);             /* [0, 1) with 24 bits */
double ns_rng_normal(ns_rng *r);              /* standard normal */
void ns_rng_fill_normal(ns_rng *r, float *x, size_t n, float mean, float std);
void ns_rng_fill_uniform(ns_rng *r, float *x, size_t n, float lo, float hi); /* [lo, hi) */
void ns_rng_shuffle_u32(ns_rng *r, uint32_t *a, size_t n);

/* qsort/bsearch order of uint32_t values, ascending. */
int ns_cmp_u32(const void *a, const void *b);
uint64_t ns_hash64(uint64_t x); /* splitmix64 finaliser */

/* Uniform in [0, n) from 32 random bits (multiply-shift; bias < n / 2^32). */
static inline uint32_t ns_below32(uint32_t bits, uint32_t n) { return (uint32_t)(((uint64_t)bits * n) >> 32); }

/* Alias tables (Walker / Vose): index i of n drawn with probability
 * w[i] / sum(w) in O(1): a uniform column c and 32 bits u give c if
 * u < thr[c], else alias[c]. Build into caller arrays thr[n], alias[n]
 * (n >= 1, weights >= 0; all equal when they sum to 0); w is overwritten
 * (scratch), work needs 2 * n int32. */
void ns_alias_build(uint32_t *thr, int32_t *alias, double *w, int32_t n, int32_t *work);
static inline int32_t ns_alias_draw(const uint32_t *thr, const int32_t *alias, int32_t n, uint64_t r64)
{
    uint32_t c = ns_below32((uint32_t)(r64 >> 32), (uint32_t)n);
    return (uint32_t)r64 < thr[c] ? (int32_t)c : alias[c];
}

/* ===================================================================== */
/* Time                                                                   */
/* ===================================================================== */

double ns_now(void);      /* monotonic seconds */
double ns_wall_time(void); /* seconds since the Unix epoch */
typedef struct ns_timer { double start; } ns_timer;
void ns_timer_start(ns_timer *t);
double ns_timer_elapsed(const ns_timer *t); /* seconds */
/* "1h02m", "3m05s", "4.2s", "350ms" */
void ns_format_duration(char *buf, size_t n, double seconds);
/* "1.23M", "45.6k", "789" */
void ns_format_count(char *buf, size_t n, double x);

/* ===================================================================== */
/* Progress display                                                       */
/* ===================================================================== */
/*
 * One status line on stderr, redrawn at most 10 times a second:
 *   "word2vec  42%  1.2M/2.9M words  315k words/s  ETA 5.4s  loss 2.31"
 * Silent when stderr is not a terminal, when ns_is_quiet(), or when
 * $NS_PROGRESS=0; $NS_PROGRESS=1 forces it on. ns_progress_update is cheap
 * and thread-safe (a relaxed atomic add plus a clock check).
 */
typedef struct ns_progress {
    char label[48];
    char unit[16];
    double total;        /* 0 = unknown */
    double start;
    _Atomic double last_draw;
    _Atomic long long done;
    int enabled;
    _Atomic int extra_lock; /* guards extra[] between note and draw */
    char extra[64];      /* free text appended (e.g. "loss 2.31") */
} ns_progress;

void ns_progress_begin(ns_progress *p, const char *label, double total, const char *unit);
void ns_progress_add(ns_progress *p, long long n);
void ns_progress_set(ns_progress *p, long long done);
void ns_progress_note(ns_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the line and returns elapsed seconds. */
double ns_progress_end(ns_progress *p);
/* Rate in units per second so far. */
double ns_progress_rate(const ns_progress *p);

/* ===================================================================== */
/* Files                                                                  */
/* ===================================================================== */

/* The path "-" is standard input for the readers and standard output for
 * ns_file_write_atomic (written whole; nothing is renamed). */
/* Read a whole file into a NUL-terminated malloc'd buffer (caller frees).
 * Refuses files larger than max_bytes (0 = 4 GiB) with NS_ETOOBIG. */
int ns_file_read_all(const char *path, char **out, size_t *len, size_t max_bytes);
/* The same for a regular file only (a directory, device or pipe is
 * NS_EINVAL), with no limit but memory: how model files are loaded. The
 * buffer is a copy, so the caller depends on the file no more. */
int ns_file_read_regular(const char *path, char **out, size_t *len);
/* Write atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory. Either the old or the new content survives a crash. */
int ns_file_write_atomic(const char *path, const void *data, size_t len);
int ns_file_exists(const char *path);
/* mkdir -p */
int ns_mkdirs(const char *path);
/* Remove a directory that holds only regular files (not recursive): its
 * files, then itself. A missing directory is not an error. */
int ns_dir_remove_files(const char *path);

/* Directory of the shared data sets: $NORTHSTAR_DATA, else the given default.
 * Returns NULL when the directory does not exist. */
const char *ns_data_dir(const char *fallback);


/* ===================================================================== */
/* Containers: string interner, u64 map, growable buffer, line reader     */
/* ===================================================================== */

/* String interner: byte strings -> dense ids 0, 1, 2, ... in first-seen
 * order (vocabularies, term dictionaries, category values). Keys are copied
 * into the map. Hashing is XXH3. Not thread-safe for writers. */
typedef struct ns_strmap ns_strmap;
ns_strmap *ns_strmap_new(size_t expected);
void ns_strmap_free(ns_strmap *m);
/* Id of the key, adding it if new; negative NS_ENOMEM on failure. */
int64_t ns_strmap_intern(ns_strmap *m, const char *s, size_t len);
/* Id of the key or -1. */
int64_t ns_strmap_find(const ns_strmap *m, const char *s, size_t len);
/* Key of an id (NUL-terminated; len may be NULL). */
const char *ns_strmap_key(const ns_strmap *m, int64_t id, size_t *len);
size_t ns_strmap_count(const ns_strmap *m);
uint64_t ns_hash_bytes(const void *p, size_t len, uint64_t seed); /* XXH3-64 */

/* Open-addressing map from u64 keys to u64 values (external ids -> rows). */
typedef struct ns_u64map {
    uint64_t *keys, *vals;
    unsigned char *used;
    size_t cap, count;
} ns_u64map;
int ns_u64map_init(ns_u64map *m, size_t expected);
void ns_u64map_release(ns_u64map *m);
int ns_u64map_put(ns_u64map *m, uint64_t key, uint64_t val); /* insert or replace */
int ns_u64map_get(const ns_u64map *m, uint64_t key, uint64_t *val); /* 1 found, 0 not */

/* Growable byte buffer, always NUL-terminated. */
typedef struct ns_buf {
    char *data;
    size_t len, cap;
} ns_buf;
void ns_buf_init(ns_buf *b);
void ns_buf_release(ns_buf *b);
int ns_buf_reserve(ns_buf *b, size_t extra);
int ns_buf_append(ns_buf *b, const void *p, size_t n);
int ns_buf_puts(ns_buf *b, const char *s);
int ns_buf_printf(ns_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) as a JSON string literal: quotes, backslashes and control
 * characters escaped, and every byte that is not part of valid UTF-8
 * written as \ufffd, so the output always parses. */
int ns_buf_json_str(ns_buf *b, const char *s, size_t n);
/* Append x as a JSON number with `digits` significant digits (1..17, as
 * printf's %.<digits>g), or null when x is NaN or infinite (JSON has no
 * such numbers), so the output always parses. */
int ns_buf_json_num(ns_buf *b, double x, int digits);

/* ===================================================================== */
/* UTF-8                                                                  */
/* ===================================================================== */
/*
 * Valid UTF-8 is RFC 3629's: no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing past U+10FFFF. Every input from outside (HTTP bodies and
 * paths, imported files, command-line text) is checked with these before
 * it is stored or echoed.
 */
/* Length (1..4) of the valid UTF-8 sequence at s[0..n), or 0 if there is none. */
size_t ns_utf8_seq(const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8, else 0. */
int ns_utf8_valid(const char *s, size_t n);
/* Copy s[0..n) into out (capacity >= 3 * n + 1), replacing each byte that
 * starts no valid sequence with U+FFFD; NUL-terminated; returns the length. */
size_t ns_utf8_sanitize(const char *s, size_t n, char *out);
/* ISO-8859-1 to UTF-8: out needs 2 * n + 1 bytes; returns the length. */
size_t ns_utf8_from_latin1(const char *s, size_t n, char *out);
/* NS_EFORMAT naming `name` (a file) when buf[0..len) is not text: a NUL
 * byte, or in the first MiB more than 1 in 20 control bytes or 1 in 5
 * bytes that are not valid UTF-8. */
int ns_utf8_check_text(const char *buf, size_t len, const char *name);

/* Line iterator over a buffer: strips "\n" and "\r\n"; the last line may
 * lack a newline; lineno is 1-based. */
typedef struct ns_lines {
    const char *p, *end;
    long lineno;
} ns_lines;
void ns_lines_init(ns_lines *it, const char *buf, size_t len);
/* 1 and the line (not NUL-terminated), or 0 at the end. */
int ns_lines_next(ns_lines *it, const char **line, size_t *len);
/* Split s in place at sep; returns the number of fields found (which may
 * exceed max: only the first max are stored). */
int ns_split(char *s, char sep, char **fields, int max);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_BASE_H */
