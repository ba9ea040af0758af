/*
 * error.c — error codes and the per-thread record of what went wrong.
 *
 * A failing function calls ns_err_set*() and returns the code; whoever
 * reports the failure prints ns_err_msg(). The record is thread-local so
 * concurrent requests in the server never see each other's errors.
 */
#include "northstar/base.h"

#include <stdio.h>
#include <string.h>

static _Thread_local ns_error_info tl_err;
static _Thread_local char tl_render[1024];

const char *ns_strerror(int code)
{
    switch (code) {
    case NS_OK: return "success";
#define NS__ERR_STR(name, c, msg) case c: return msg;
    NS_ERRNO_MAP(NS__ERR_STR)
#undef NS__ERR_STR
    default: return "unknown error";
    }
}

const char *ns_errname(int code)
{
    switch (code) {
    case NS_OK: return "NS_OK";
#define NS__ERR_NAME(name, c, msg) case c: return "NS_E" #name;
    NS_ERRNO_MAP(NS__ERR_NAME)
#undef NS__ERR_NAME
    default: return "NS_E?";
    }
}

/* Copy src into dst[n], ending a value that does not fit with "..." and
 * never cutting a UTF-8 sequence in half (messages end up in JSON). src may
 * overlap dst (a caller may pass ns_err_last()->file back in). */
static void copy_trunc(char *dst, size_t n, const char *src)
{
    if (!src) { dst[0] = 0; return; }
    size_t l = strlen(src);
    if (l >= n) {
        size_t k = n - 4;
        while (k > 0 && ((unsigned char)src[k] & 0xC0) == 0x80) k--; /* continuation byte */
        memmove(dst, src, k);
        memcpy(dst + k, "...", 4);
    } else {
        memmove(dst, src, l + 1);
    }
}

static int vset(int code, const char *file, long line, const char *field,
                const char *value, const char *fmt, va_list ap)
{
    /* Format first: the arguments may point into the current record
     * (e.g. ns_err_set(c, "while saving: %s", ns_err_last()->msg)). */
    char msg[sizeof tl_err.msg];
    if (fmt)
        vsnprintf(msg, sizeof msg, fmt, ap);
    else
        snprintf(msg, sizeof msg, "%s", ns_strerror(code));
    tl_err.code = code;
    copy_trunc(tl_err.file, sizeof tl_err.file, file);
    tl_err.line = line;
    copy_trunc(tl_err.field, sizeof tl_err.field, field);
    copy_trunc(tl_err.value, sizeof tl_err.value, value);
    memcpy(tl_err.msg, msg, sizeof msg);
    return code;
}

int ns_err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(code, NULL, 0, NULL, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int ns_err_set_at(int code, const char *file, long line, const char *field,
                  const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(code, file, line, field, value, fmt, ap);
    va_end(ap);
    return code;
}

int ns_err_wrap(const char *fmt, ...)
{
    char prefix[256], old[sizeof tl_err.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (tl_err.code == NS_OK) tl_err.code = NS_EINTERNAL; /* wrapping nothing is a bug */
    memcpy(old, tl_err.msg, sizeof old);
    snprintf(tl_err.msg, sizeof tl_err.msg, "%s: %s", prefix,
             old[0] ? old : ns_strerror(tl_err.code));
    return tl_err.code;
}

const ns_error_info *ns_err_last(void) { return &tl_err; }

const char *ns_err_msg(void)
{
    char *p = tl_render;
    size_t n = sizeof tl_render, k = 0;
    if (tl_err.code == NS_OK && !tl_err.msg[0]) return "no error";
    if (tl_err.file[0]) {
        if (tl_err.line > 0)
            k += (size_t)snprintf(p + k, n - k, "%s:%ld: ", tl_err.file, tl_err.line);
        else
            k += (size_t)snprintf(p + k, n - k, "%s: ", tl_err.file);
    }
    if (k < n && tl_err.field[0]) {
        if (tl_err.value[0])
            k += (size_t)snprintf(p + k, n - k, "%s '%s': ", tl_err.field, tl_err.value);
        else
            k += (size_t)snprintf(p + k, n - k, "%s: ", tl_err.field);
    } else if (k < n && tl_err.value[0]) {
        k += (size_t)snprintf(p + k, n - k, "'%s': ", tl_err.value);
    }
    if (k < n)
        snprintf(p + k, n - k, "%s (%s)", tl_err.msg[0] ? tl_err.msg : ns_strerror(tl_err.code),
                 ns_errname(tl_err.code));
    return tl_render;
}

void ns_err_clear(void) { memset(&tl_err, 0, sizeof tl_err); }
