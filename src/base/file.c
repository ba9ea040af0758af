/*
 * file.c — whole-file reads, atomic writes, read-only maps, mkdir -p.
 * Atomic writes are how northstar saves models and indexes: a crash leaves
 * either the old file or the new one, never a torn mix.
 */
#include "northstar/base.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int ns_file_read_all(const char *path, char **out, size_t *len, size_t max_bytes)
{
    *out = NULL;
    if (len) *len = 0;
    if (max_bytes == 0) max_bytes = (size_t)4 << 30;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ns_err_set_at(errno == ENOENT ? NS_ENOTFOUND : NS_EIO, path, 0, NULL, NULL,
                                     "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ns_err_set_at(NS_EINVAL, path, 0, NULL, NULL, "is a directory, expected a file");
    }
    /* Regular files are read by size; pipes and others grow as needed. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
    if (S_ISREG(st.st_mode) && (size_t)st.st_size > max_bytes) {
        close(fd);
        return ns_err_set_at(NS_ETOOBIG, path, 0, NULL, NULL, "file is %lld bytes, limit is %zu",
                             (long long)st.st_size, max_bytes);
    }
    char *buf = ns_malloc(cap);
    if (!buf) { close(fd); return NS_ENOMEM; }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max_bytes) {
                free(buf);
                close(fd);
                return ns_err_set_at(NS_ETOOBIG, path, 0, NULL, NULL, "input exceeds limit of %zu bytes", max_bytes);
            }
            char *nb = ns_realloc(buf, cap * 2);
            if (!nb) { free(buf); close(fd); return NS_ENOMEM; }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "read failed: %s", strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return NS_OK;
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

int ns_file_write_atomic(const char *path, const void *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = ns_malloc(pl + 32);
    if (!tmp) return NS_ENOMEM;
    snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot create: %s", strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed: %s", strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "fsync/close failed: %s", strerror(e));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "rename failed: %s", strerror(e));
    }
    free(tmp);
    return fsync_dir_of(path);
}

int ns_file_map(const char *path, const void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ns_err_set_at(errno == ENOENT ? NS_ENOTFOUND : NS_EIO, path, 0, NULL, NULL,
                                     "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "not a regular file");
    }
    if (st.st_size == 0) { close(fd); return NS_OK; }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "mmap failed: %s", strerror(e));
    *out = p;
    *len = (size_t)st.st_size;
    return NS_OK;
}

void ns_file_unmap(const void *p, size_t len)
{
    if (p && len) munmap((void *)p, len);
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
    if (n == 0 || n >= sizeof buf) return ns_err_set(NS_EINVAL, "bad directory path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return ns_err_set_at(NS_EIO, buf, 0, NULL, NULL, "mkdir failed: %s", strerror(errno));
            buf[i] = c;
        }
    }
    return NS_OK;
}

const char *ns_data_dir(const char *fallback)
{
    const char *e = getenv("NORTHSTAR_DATA");
    struct stat st;
    if (e && *e) return (stat(e, &st) == 0 && S_ISDIR(st.st_mode)) ? e : NULL;
    if (fallback && stat(fallback, &st) == 0 && S_ISDIR(st.st_mode)) return fallback;
    return NULL;
}
