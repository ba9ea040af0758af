/*
 * file.c — whole-file reads, atomic writes, mkdir -p.
 * Atomic writes are how northstar saves models and indexes: a crash leaves
 * either the old file or the new one, never a torn mix. Nothing here maps a
 * file: a loaded model is a copy in memory, which a writer of its file (an
 * overwrite in place, a truncation) cannot change under a running server.
 */
#include "northstar/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open a file for reading and stat it; errors name the file. */
static int open_stat(const char *path, int *fd, struct stat *st)
{
    *fd = strcmp(path, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        int e = errno;
        return ns_err_set_at(e == ENOENT ? NS_ENOTFOUND : NS_EIO, path, 0, NULL, NULL, "cannot open: %s", strerror(e));
    }
    if (fstat(*fd, st) < 0) {
        int e = errno;
        close(*fd);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot stat: %s", strerror(e));
    }
    return 0;
}

/* The open file fd (its stat st) into a NUL-terminated malloc'd buffer of
 * at most max_bytes; closes fd. */
static int read_fd(const char *path, int fd, const struct stat *st, char **out, size_t *len, size_t max_bytes)
{
    int rc = NS_OK;
    if (max_bytes > SIZE_MAX / 2) max_bytes = SIZE_MAX / 2; /* room for the NUL and doubling */
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        return ns_err_set_at(NS_EINVAL, path, 0, NULL, NULL, "is a directory, expected a file");
    }
    if (S_ISREG(st->st_mode) && (uint64_t)st->st_size > (uint64_t)max_bytes) {
        close(fd);
        return ns_err_set_at(NS_ETOOBIG, path, 0, NULL, NULL, "file is %lld bytes, limit is %zu",
                             (long long)st->st_size, max_bytes);
    }
    /* Regular files are read by their size (plus one byte to see EOF);
     * pipes, /proc files (size 0) and files that grow meanwhile grow the
     * buffer, but only once a read shows there really is more data. */
    size_t cap = S_ISREG(st->st_mode) && st->st_size > 0 ? (size_t)st->st_size + 1 : 65536, n = 0;
    if (cap > max_bytes + 1) cap = max_bytes + 1;
    char *buf = ns_malloc(cap);
    if (!buf) { close(fd); return NS_ENOMEM; }
    for (;;) {
        if (n + 1 == cap) { /* full: probe for one more byte before growing */
            char c;
            ssize_t r = read(fd, &c, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) { rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "read failed: %s", strerror(errno)); break; }
            if (r == 0) break;
            if (n >= max_bytes) {
                rc = ns_err_set_at(NS_ETOOBIG, path, 0, NULL, NULL, "input exceeds the limit of %zu bytes", max_bytes);
                break;
            }
            size_t nc = cap * 2 < max_bytes + 1 ? cap * 2 : max_bytes + 1;
            char *nb = ns_realloc(buf, nc);
            if (!nb) { rc = NS_ENOMEM; break; }
            buf = nb;
            cap = nc;
            buf[n++] = c;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "read failed: %s", strerror(errno)); break; }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0) { free(buf); return rc; }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return NS_OK;
}

int ns_file_read_all(const char *path, char **out, size_t *len, size_t max_bytes)
{
    *out = NULL;
    if (len) *len = 0;
    int fd;
    struct stat st;
    int rc = open_stat(path, &fd, &st);
    return rc < 0 ? rc : read_fd(path, fd, &st, out, len, max_bytes ? max_bytes : (size_t)4 << 30);
}

int ns_file_read_regular(const char *path, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    int fd;
    struct stat st;
    int rc = open_stat(path, &fd, &st);
    if (rc < 0) return rc;
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ns_err_set_at(NS_EINVAL, path, 0, NULL, NULL, "%s, expected a regular file",
                             S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    return read_fd(path, fd, &st, out, len, SIZE_MAX);
}

static int fsync_dir_of(const char *path)
{
    char *copy = ns_strdup(path);
    if (!copy) return NS_ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return NS_OK; /* best effort */
    fsync(fd);
    close(fd);
    return NS_OK;
}

/* "-": standard output, written whole (no rename: it is no file). */
static int write_stdout(const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(1, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ns_err_set_at(NS_EIO, "-", 0, NULL, NULL, "writing standard output: %s", strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return NS_OK;
}

int ns_file_write_atomic(const char *path, const void *data, size_t len)
{
    if (!strcmp(path, "-")) return write_stdout(data, len);
    /* The temp name is unique per process, thread and call, and created with
     * O_EXCL: two writers of the same path (threads of a server, or two
     * processes) never share a temp file; the last rename wins whole. */
    static _Atomic unsigned long counter;
    size_t pl = strlen(path);
    char *tmp = ns_malloc(pl + 64);
    if (!tmp) return NS_ENOMEM;
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, pl + 64, "%s.tmp.%ld.%lu", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    if (fd < 0) {
        free(tmp);
        return ns_err_set_at(e == ENOENT ? NS_ENOTFOUND : NS_EIO, path, 0, NULL, NULL,
                             "cannot create: %s", strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed: %s", strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    int sync_failed = fsync(fd) < 0;
    e = errno;
    if (close(fd) < 0 && !sync_failed) { sync_failed = 1; e = errno; }
    if (sync_failed) {
        unlink(tmp);
        free(tmp);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "fsync/close failed: %s", strerror(e));
    }
    if (rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        free(tmp);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "rename failed: %s", strerror(e));
    }
    free(tmp);
    return fsync_dir_of(path);
}

int ns_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int ns_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ns_err_set_at(NS_EINVAL, path, 0, NULL, NULL, "bad directory path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                return ns_err_set_at(e == ENOTDIR ? NS_EEXISTS : NS_EIO, buf, 0, NULL, NULL,
                                     "mkdir failed: %s", strerror(e));
            }
            buf[i] = c;
        }
    }
    /* EEXIST above also means "a file of that name exists". */
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return ns_err_set_at(NS_EEXISTS, path, 0, NULL, NULL, "exists and is not a directory");
    return NS_OK;
}

int ns_dir_remove_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? NS_OK : ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "%s", strerror(errno));
    char buf[4096];
    int rc = NS_OK;
    for (struct dirent *e; rc == NS_OK && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(buf, sizeof buf, "%s/%s", path, e->d_name) >= (int)sizeof buf || unlink(buf) < 0)
            rc = ns_err_set_at(NS_EIO, buf, 0, NULL, NULL, "cannot remove: %s", strerror(errno));
    }
    closedir(d);
    if (rc == NS_OK && rmdir(path) < 0) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "rmdir: %s", strerror(errno));
    return rc;
}

const char *ns_data_dir(const char *fallback)
{
    const char *e = getenv("NORTHSTAR_DATA");
    struct stat st;
    if (e && *e) return (stat(e, &st) == 0 && S_ISDIR(st.st_mode)) ? e : NULL;
    if (fallback && stat(fallback, &st) == 0 && S_ISDIR(st.st_mode)) return fallback;
    return NULL;
}
