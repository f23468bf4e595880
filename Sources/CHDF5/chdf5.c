#define _GNU_SOURCE /* PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP */
#include "CHDF5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One thread at a time inside libhdf5 through this shim. The serial library is not meant for
   concurrent calls, and a child forked (below) while another thread is inside libhdf5 would inherit
   its half-updated state, or its lock held for ever. Recursive: the functions call each other. */
static pthread_mutex_t shim_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static void release_shim_lock(int *unused) {
    (void)unused;
    pthread_mutex_unlock(&shim_lock);
}
#define HOLD_SHIM_LOCK()              \
    pthread_mutex_lock(&shim_lock); \
    int shim_lock_guard __attribute__((cleanup(release_shim_lock), unused)) = 0

/* libhdf5 closes what is still open when the process exits; a process that ran many HDF5 jobs
   on several threads (the test runner) could leave it looping over its free lists and printing
   "HDF5: infinite loop closing library" after everything had passed. Every file this shim writes
   is closed, synced and renamed before the command returns, so nothing is left for that pass:
   it is turned off before libhdf5 is first used. */
__attribute__((constructor)) static void skip_close_at_exit(void) {
    H5dont_atexit();
}

/* Automatic printing of the error stack goes to stderr; turn it off for the
   calling thread (HDF5 keeps this setting per thread in thread-safe builds). */
static void quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char *buffer;
    size_t cap;
    size_t used;
} collector;

static herr_t collect(unsigned n, const H5E_error2_t *e, void *data) {
    collector *c = data;
    if (c->used + 2 >= c->cap) return 0;
    const char *desc = (e->desc && *e->desc) ? e->desc : "error";
    int written = snprintf(c->buffer + c->used, c->cap - c->used, "%s%s", n ? "; " : "", desc);
    if (written > 0) c->used += (size_t)written < c->cap - c->used ? (size_t)written : c->cap - c->used - 1;
    return 0;
}

/* Copies HDF5's current error stack (innermost first) after a prefix. */
static int fail(char *error, size_t cap, const char *prefix) {
    if (!error || !cap) return -1;
    int n = snprintf(error, cap, "%s", prefix);
    collector c = {error, cap, n > 0 ? (size_t)n : 0};
    if (c.used + 2 < cap) {
        ssize_t count = H5Eget_num(H5E_DEFAULT);
        if (count > 0) {
            c.used += (size_t)snprintf(error + c.used, cap - c.used, ": ");
            H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &c);
        }
    }
    H5Eclear2(H5E_DEFAULT);
    return -1;
}

int chdf5_file_open(const char *path, int64_t *file_id, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    *file_id = -1;
    htri_t is_hdf5 = H5Fis_hdf5(path);
    if (is_hdf5 <= 0) return fail(error, cap, is_hdf5 == 0 ? "not an HDF5 file" : "cannot read the file");
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) return fail(error, cap, "cannot open");
    *file_id = id;
    return 0;
}

int chdf5_file_close(int64_t file_id) {
    HOLD_SHIM_LOCK();
    quiet();
    int status = H5Fclose((hid_t)file_id) < 0 ? -1 : 0;
    /* libhdf5 keeps freed blocks on free lists of its own for reuse; a file's worth goes back to
       the allocator instead (a leak checker then sees every block of the file freed). */
    H5garbage_collect();
    return status;
}

int chdf5_exists(int64_t file_id, const char *path) {
    HOLD_SHIM_LOCK();
    quiet();
    /* H5Lexists needs every intermediate link to exist: walk the path. */
    char partial[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof partial) return 0;
    if (strcmp(path, "/") == 0) return 1;
    for (size_t i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == 0) {
            memcpy(partial, path, i);
            partial[i] = 0;
            htri_t exists = H5Lexists((hid_t)file_id, partial, H5P_DEFAULT);
            if (exists <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
        }
    }
    htri_t ok = H5Oexists_by_name((hid_t)file_id, path, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return ok > 0 ? 1 : 0;
}

int chdf5_dataset_open(int64_t file_id, const char *path, int64_t *dataset_id, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    *dataset_id = -1;
    if (!chdf5_exists(file_id, path)) {
        snprintf(error, cap, "no dataset at '%s'", path);
        return -1;
    }
    hid_t id = H5Dopen2((hid_t)file_id, path, H5P_DEFAULT);
    if (id < 0) return fail(error, cap, "cannot open the dataset");
    *dataset_id = id;
    return 0;
}

int chdf5_dataset_close(int64_t dataset_id) {
    HOLD_SHIM_LOCK();
    quiet();
    return H5Dclose((hid_t)dataset_id) < 0 ? -1 : 0;
}

/* A dataset's storage layout as the checks below need it. */
typedef struct {
    H5D_layout_t layout;
    int chunk_rank;        /* chunked only (at most 8 dimensions stored); 0 otherwise */
    hsize_t chunk[8];
    int filters;
    /* The filters that can change a chunk's size (all but shuffle), as a filter mask: a chunk
       that skips them all is stored at exactly its shape's size. */
    unsigned resizing;
    /* The resizing filters that are deflate, and whether every resizing filter is deflate or the
       Fletcher-32 checksum (4 bytes): then how far a chunk can expand is known (below). */
    unsigned deflating;
    int expansion_bounded;
    double chunk_bytes;    /* a chunk's shape in bytes (chunked only) */
} storage_layout;

static int read_storage_layout(hid_t dset, storage_layout *out, char *error, size_t cap) {
    memset(out, 0, sizeof *out);
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return fail(error, cap, "cannot read the dataset's storage layout");
    out->layout = H5Pget_layout(dcpl);
    out->chunk_rank = out->layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, 8, out->chunk) : 0;
    out->filters = H5Pget_nfilters(dcpl);
    out->expansion_bounded = out->filters <= 32;
    for (int i = 0; i < out->filters && i < 32; i++) {
        unsigned flags = 0;
        size_t values = 0;
        H5Z_filter_t filter = H5Pget_filter2(dcpl, (unsigned)i, &flags, &values, NULL, 0, NULL, NULL);
        if (filter != H5Z_FILTER_SHUFFLE) out->resizing |= 1u << i;
        if (filter == H5Z_FILTER_DEFLATE) out->deflating |= 1u << i;
        if (filter != H5Z_FILTER_SHUFFLE && filter != H5Z_FILTER_DEFLATE && filter != H5Z_FILTER_FLETCHER32) {
            out->expansion_bounded = 0;
        }
    }
    H5Pclose(dcpl);
    hid_t type = H5Dget_type(dset);
    out->chunk_bytes = type >= 0 ? (double)H5Tget_size(type) : 0;
    if (type >= 0) H5Tclose(type);
    for (int i = 0; i < out->chunk_rank && i < 8; i++) out->chunk_bytes *= (double)out->chunk[i];
    return 0;
}

/* Whether an unfiltered chunked dataset's chunks, as its index counts them, take exactly the bytes
   of their shape. libhdf5 1.10 reads a chunk into a buffer of the size its index records and
   copies a whole chunk out of it, so a damaged index (or a filter message gone) gives a heap
   over-read (libFuzzer: H5VM_memcpyvv, pixels from beyond the buffer). The index's sizes add up to
   the dataset's storage size. Counting walks the whole index: done once per opened dataset, not
   per frame. 0 when consistent (or not an unfiltered chunked dataset), -1 with the reason. */
static int unfiltered_chunks_consistent(hid_t dset, char *error, size_t cap) {
    storage_layout storage;
    if (read_storage_layout(dset, &storage, error, cap) != 0) return -1;
    if (storage.layout != H5D_CHUNKED || storage.filters != 0 || storage.chunk_rank < 1 || storage.chunk_rank > 8) {
        return 0;
    }
    double chunk_bytes = storage.chunk_bytes;
    hsize_t allocated = 0;
    hid_t space = H5Dget_space(dset);
    herr_t counted = space >= 0 ? H5Dget_num_chunks(dset, space, &allocated) : -1;
    if (space >= 0) H5Sclose(space);
    if (counted < 0) return fail(error, cap, "cannot count the dataset's chunks");
    double stored = (double)H5Dget_storage_size(dset);
    if (stored != (double)allocated * chunk_bytes) {
        snprintf(error, cap, "its %llu uncompressed chunks are stored in %.0f bytes, not the %.0f of their shape: "
                 "a damaged file", (unsigned long long)allocated, stored, (double)allocated * chunk_bytes);
        return -1;
    }
    return 0;
}

/* ---- The element size a chunked layout message stores ------------------------------------
   A chunked dataset's layout message lists its chunk's dimensions and then the size of one element.
   libhdf5 1.10 lays a chunk out in memory with that stored size but converts with the datatype's:
   when the two differ (a damaged file) it copies from far past the chunk it decoded (libFuzzer:
   elements stored as 32 bytes of a 4-byte float, a SEGV in H5VM_memcpyvv under H5Dread, in the
   plain build too). libhdf5 1.14 compares them ("stored datatype size in chunk layout does not
   match datatype description"); 1.10 does not and has no call that returns the stored size, so it
   is read here from the dataset's object header (HDF5 File Format Specification 3.0, sections
   IV.A.1 object headers and IV.A.2.i the data layout message). */

/* `count` bytes (at most 8) as a little-endian unsigned integer. */
static uint64_t little_endian(const unsigned char *bytes, unsigned count) {
    uint64_t value = 0;
    for (unsigned i = count; i > 0; i--) value = value << 8 | bytes[i - 1];
    return value;
}

/* The element size in a layout message of `size` bytes: 1 with it, 0 when the message is not a
   chunked layout this reading knows (libhdf5 itself refuses the versions it does not know). */
static int layout_element_size(const unsigned char *message, size_t size, unsigned address_bytes,
                               uint64_t *element) {
    if (size < 3) return 0;
    size_t dims_at = 0;
    unsigned ndims = 0, dim_bytes = 4;
    switch (message[0]) {
    case 1:
    case 2: /* version, dimensionality, class, five reserved bytes, address, 32-bit dimensions */
        if (message[2] != H5D_CHUNKED) return 0;
        ndims = message[1];
        dims_at = 8 + address_bytes;
        break;
    case 3: /* version, class, dimensionality, address, 32-bit dimensions */
        if (message[1] != H5D_CHUNKED) return 0;
        ndims = message[2];
        dims_at = 3 + address_bytes;
        break;
    case 4:
    case 5: /* version, class, flags, dimensionality, bytes per dimension, dimensions */
        if (size < 5 || message[1] != H5D_CHUNKED) return 0;
        ndims = message[3];
        dim_bytes = message[4];
        dims_at = 5;
        if (dim_bytes < 1 || dim_bytes > 8) return 0;
        break;
    default:
        return 0;
    }
    if (ndims < 2 || dims_at + (size_t)ndims * dim_bytes > size) return 0;
    *element = little_endian(message + dims_at + (size_t)(ndims - 1) * dim_bytes, dim_bytes);
    return 1;
}

/* One block of an object header's messages: where it is and how its messages are framed. */
typedef struct {
    uint64_t address;
    uint64_t length;
} header_block;

/* The element size the dataset's layout message stores: 1 with it, 0 when it cannot be found
   (another file driver, an unreadable header: libhdf5's own reading then decides). */
static int stored_element_size(hid_t dset, uint64_t *element) {
    haddr_t header = HADDR_UNDEF;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t object;
    if (H5Oget_info3(dset, &object, H5O_INFO_BASIC) < 0 ||
        H5VLnative_token_to_addr(dset, object.token, &header) < 0) return 0;
#else
    H5O_info_t object;
    if (H5Oget_info2(dset, &object, H5O_INFO_BASIC) < 0) return 0;
    header = object.addr;
#endif
    hid_t file = H5Iget_file_id(dset);
    if (file < 0) return 0;
    int *descriptor = NULL;
    hsize_t base = 0;
    size_t address_bytes = 0, length_bytes = 0;
    hid_t access = H5Fget_access_plist(file);
    hid_t creation = H5Fget_create_plist(file);
    int usable = access >= 0 && creation >= 0 && H5Pget_driver(access) == H5FD_SEC2 &&
                 H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&descriptor) >= 0 && descriptor &&
                 H5Pget_userblock(creation, &base) >= 0 &&
                 H5Pget_sizes(creation, &address_bytes, &length_bytes) >= 0 &&
                 address_bytes >= 1 && address_bytes <= 8 && length_bytes >= 1 && length_bytes <= 8;
    int fd = usable ? *descriptor : -1;
    if (access >= 0) H5Pclose(access);
    if (creation >= 0) H5Pclose(creation);
    H5Fclose(file);
    if (fd < 0 || header == HADDR_UNDEF) return 0;

    unsigned char prefix[64];
    ssize_t got = pread(fd, prefix, sizeof prefix, (off_t)(base + header));
    if (got < 16) return 0;
    int version2 = memcmp(prefix, "OHDR", 4) == 0;
    header_block blocks[64];
    int count = 0;
    unsigned creation_order = 0;
    if (version2) { /* "OHDR", version, flags, [times], [attribute phase], size of chunk 0 */
        unsigned flags = prefix[5];
        size_t at = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
        unsigned width = 1u << (flags & 3);
        if ((size_t)got < at + width) return 0; /* at most 34 bytes: the prefix holds them */
        creation_order = flags & 0x04 ? 2 : 0;
        blocks[count++] = (header_block){header + at + width, little_endian(prefix + at, width)};
    } else if (prefix[0] == 1) { /* version, reserved, messages, references, size; aligned to 8 */
        blocks[count++] = (header_block){header + 16, little_endian(prefix + 8, 4)};
    } else {
        return 0;
    }
    size_t message_header = version2 ? 4 + creation_order : 8;
    int found = 0;
    for (int next = 0; next < count && !found; next++) {
        header_block block = blocks[next];
        if (block.length > (1u << 20)) return 0; /* object headers hold kilobytes */
        unsigned char *bytes = malloc(block.length ? block.length : 1);
        if (!bytes) return 0;
        if (pread(fd, bytes, block.length, (off_t)(base + block.address)) != (ssize_t)block.length) {
            free(bytes);
            return 0;
        }
        size_t at = 0;
        while (at + message_header <= block.length && !found) {
            unsigned type = version2 ? bytes[at] : (unsigned)little_endian(bytes + at, 2);
            size_t size = (size_t)little_endian(bytes + at + (version2 ? 1 : 2), 2);
            const unsigned char *body = bytes + at + message_header;
            if (at + message_header + size > block.length) break;
            if (type == 0x0008) {
                found = layout_element_size(body, size, (unsigned)address_bytes, element);
                if (!found) break;
            } else if (type == 0x0010 && size >= address_bytes + length_bytes && count < 64) {
                /* A continuation: v2 blocks open with "OCHK" and close with a checksum. */
                uint64_t address = little_endian(body, (unsigned)address_bytes);
                uint64_t length = little_endian(body + address_bytes, (unsigned)length_bytes);
                if (version2 && length >= 8) blocks[count++] = (header_block){address + 4, length - 8};
                if (!version2) blocks[count++] = (header_block){address, length};
            }
            at += message_header + size;
        }
        free(bytes);
    }
    return found;
}

/* 0 when a chunked dataset's layout stores its datatype's element size (or it cannot be told),
   -1 with the reason. */
static int chunk_element_size_consistent(hid_t dset, char *error, size_t cap) {
    hid_t dcpl = H5Dget_create_plist(dset);
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (layout != H5D_CHUNKED) return 0;
    uint64_t stored = 0;
    if (!stored_element_size(dset, &stored)) return 0;
    hid_t type = H5Dget_type(dset);
    size_t element = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0) H5Tclose(type);
    if (element == 0 || stored == element) return 0;
    snprintf(error, cap, "its chunk layout stores elements of %llu bytes, its datatype %zu: a damaged file",
             (unsigned long long)stored, element);
    return -1;
}

int chdf5_dataset_info_get(int64_t dataset_id, chdf5_dataset_info *info, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    memset(info, 0, sizeof *info);
    info->missing_filter_id = -1;
    hid_t dset = (hid_t)dataset_id;
    hid_t space = H5Dget_space(dset);
    if (space < 0) return fail(error, cap, "cannot read the dataspace");
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > 8) {
        H5Sclose(space);
        snprintf(error, cap, "unsupported dataset rank %d", rank);
        return -1;
    }
    hsize_t dims[8] = {0};
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    info->rank = rank;
    for (int i = 0; i < rank; i++) info->dims[i] = dims[i];

    hid_t type = H5Dget_type(dset);
    if (type < 0) return fail(error, cap, "cannot read the datatype");
    H5T_class_t cls = H5Tget_class(type);
    info->type_size = (uint32_t)H5Tget_size(type);
    switch (cls) {
    case H5T_INTEGER:
        info->type_class = CHDF5_CLASS_INTEGER;
        info->is_signed = H5Tget_sign(type) == H5T_SGN_2;
        break;
    case H5T_FLOAT:
        info->type_class = CHDF5_CLASS_FLOAT;
        info->is_signed = 1;
        break;
    case H5T_STRING:
        info->type_class = CHDF5_CLASS_STRING;
        break;
    default:
        info->type_class = CHDF5_CLASS_OTHER;
    }
    H5Tclose(type);

    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl >= 0) {
        int n = H5Pget_nfilters(dcpl);
        info->filter_count = n;
        for (int i = 0; i < n; i++) {
            unsigned flags = 0, config = 0;
            size_t nelmts = 0;
            char name[128] = {0};
            H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelmts, NULL, sizeof name, name, &config);
            if (id < 0) continue;
            htri_t avail = H5Zfilter_avail(id);
            if (avail <= 0) {
                info->missing_filter_id = (int32_t)id;
                snprintf(info->missing_filter_name, sizeof info->missing_filter_name, "%s", name);
                break;
            }
        }
        H5Pclose(dcpl);
    }
    if (chunk_element_size_consistent(dset, error, cap) != 0) return -1;
    if (unfiltered_chunks_consistent(dset, error, cap) != 0) return -1;
    H5Eclear2(H5E_DEFAULT);
    return 0;
}

static hid_t native_type_for(hid_t file_type) {
    return H5Tget_native_type(file_type, H5T_DIR_ASCEND);
}

/* Whether every byte of the hyperslab [s, s + c) is stored in the file. libhdf5 reads a chunk that
   was never written (or a contiguous dataset never allocated) as its fill value, so a small damaged
   or unfinished file can claim a frame of hundreds of MB that reads as zeros, slowly (libFuzzer: a
   13 kB file, 32 x 2097184 pixels of 1 x 32 x 32 chunks, two seconds of filling). 0 when written,
   -1 with the first missing chunk in `error`. */
static int hyperslab_written(hid_t dset, int rank, const hsize_t *s, const hsize_t *c, char *error, size_t cap) {
    storage_layout storage;
    if (read_storage_layout(dset, &storage, error, cap) != 0) return -1;
    H5D_layout_t layout = storage.layout;
    int chunk_rank = storage.chunk_rank;
    const hsize_t *chunk = storage.chunk;
    unsigned resizing = storage.resizing;
    if (layout == H5D_CONTIGUOUS) {
        if (H5Dget_storage_size(dset) > 0) return 0;
        snprintf(error, cap, "its data were never written (no storage allocated): an incomplete or damaged file");
        return -1;
    }
    if (layout == H5D_COMPACT) {
        /* The data are in the object header, in a buffer of the size that header states; libhdf5
           1.10 copies the whole selection out of it without comparing the two (libFuzzer: a heap
           overflow in H5D__compact_readvv). */
        hid_t space = H5Dget_space(dset);
        hid_t type = H5Dget_type(dset);
        hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
        size_t element = type >= 0 ? H5Tget_size(type) : 0;
        if (space >= 0) H5Sclose(space);
        if (type >= 0) H5Tclose(type);
        hsize_t stored = H5Dget_storage_size(dset);
        if (points < 0 || element == 0 || (double)stored < (double)points * (double)element) {
            snprintf(error, cap, "its data are stored in %llu bytes, not the %.0f its shape needs: a damaged file",
                     (unsigned long long)stored, (double)(points < 0 ? 0 : points) * (double)element);
            return -1;
        }
        return 0;
    }
    if (layout != H5D_CHUNKED) return 0; /* virtual and other layouts: libhdf5's own checks */
    if (chunk_rank != rank) {
        snprintf(error, cap, "chunks of rank %d for a dataset of rank %d: a damaged file", chunk_rank, rank);
        return -1;
    }
    /* A chunk larger than a dimension that cannot grow is one no writer can make (H5Pset_chunk
       refuses it); libhdf5 1.10 reads such a layout past the end of the caller's buffer
       (libFuzzer: H5VM_memcpyvv writing beyond a 32 x 32 frame from 32 x 262144 chunks; a crash
       of the plain build too). */
    hsize_t extent[8] = {0}, most[8] = {0};
    hid_t shape = H5Dget_space(dset);
    int shape_rank = shape >= 0 ? H5Sget_simple_extent_dims(shape, extent, most) : -1;
    if (shape >= 0) H5Sclose(shape);
    if (shape_rank != rank) return fail(error, cap, "cannot read the dataspace");
    for (int i = 0; i < rank; i++) {
        if (most[i] != H5S_UNLIMITED && chunk[i] > most[i]) {
            snprintf(error, cap, "chunks of %llu along dimension %d, which cannot exceed %llu: a damaged file",
                     (unsigned long long)chunk[i], i, (unsigned long long)most[i]);
            return -1;
        }
    }
    /* The chunks that cover the hyperslab, as an odometer over their grid. */
    hsize_t first[8], last[8], at[8];
    double total = 1;
    for (int i = 0; i < rank; i++) {
        if (chunk[i] == 0 || c[i] == 0) return 0;
        first[i] = s[i] / chunk[i];
        last[i] = (s[i] + c[i] - 1) / chunk[i];
        total *= (double)(last[i] - first[i] + 1);
        at[i] = first[i];
    }
    if (total > 4194304) {
        snprintf(error, cap, "a frame spread over %.0f chunks (more than 4194304): a damaged file", total);
        return -1;
    }
    /* Unfiltered chunks hold exactly their shape's bytes (the whole index is checked at open:
       `unfiltered_chunks_consistent`); so does a chunk that skipped every resizing filter. */
    double chunk_bytes = storage.chunk_bytes;
    /* No chunk is larger than the file that holds it: a damaged index made libhdf5 allocate 4 GB
       for a 13 kB file (libFuzzer) before its read failed. */
    hsize_t file_size = 0;
    hid_t file = H5Iget_file_id(dset);
    if (file >= 0) {
        if (H5Fget_filesize(file, &file_size) < 0) file_size = 0;
        H5Fclose(file);
    }
    for (;;) {
        hsize_t offset[8];
        for (int i = 0; i < rank; i++) offset[i] = at[i] * chunk[i];
        hsize_t bytes = 0;
        haddr_t address = 0;
        unsigned skipped = 0;
        if (H5Dget_chunk_info_by_coord(dset, offset, &skipped, &address, &bytes) < 0 || bytes == 0) {
            char where[160] = {0};
            size_t used = 0;
            for (int i = 0; i < rank && used < sizeof where; i++) {
                used += (size_t)snprintf(where + used, sizeof where - used, i ? ",%llu" : "%llu",
                                         (unsigned long long)offset[i]);
            }
            H5Eclear2(H5E_DEFAULT);
            snprintf(error, cap, "the chunk at (%s) was never written: an incomplete or damaged file", where);
            return -1;
        }
        if (file_size > 0 && bytes > file_size) {
            snprintf(error, cap, "a chunk claims %llu bytes, more than the whole file (%llu): a damaged file",
                     (unsigned long long)bytes, (unsigned long long)file_size);
            return -1;
        }
        /* A chunk's filter mask says which filters it skipped (one that did not help is skipped
           when optional); skipping all that change sizes, it is stored raw. libhdf5 then copies a
           whole chunk out of the stored bytes (libFuzzer: a deflated 1762-byte chunk whose mask
           skips deflate; a heap over-read, other memory as pixels in the plain build). */
        if ((resizing & ~skipped) == 0 && (double)bytes != chunk_bytes) {
            snprintf(error, cap, "a chunk stored without compression takes %llu bytes, not the %.0f of its shape: "
                     "a damaged file", (unsigned long long)bytes, chunk_bytes);
            return -1;
        }

        /* Deflate expands its input at most 1032-fold (RFC 1951: a 258-byte match in as little as
           two bits), so a deflated chunk of `bytes` cannot hold more than about 1032 x `bytes`.
           libhdf5 1.10 does not compare what the pipeline returns with the chunk's shape: a chunk
           of 1 x 32 x 262144 floats (32 MB, legal while the extent may grow to it) stored in 1762
           deflated bytes that inflate to 4096 was copied out as 32 MB (libFuzzer: H5VM_memcpyvv
           past the buffer, a crash of the plain build too). */
        if (storage.expansion_bounded && (storage.deflating & ~skipped) != 0 &&
            chunk_bytes > 1032.0 * (double)bytes + 1024.0) {
            snprintf(error, cap, "a deflated chunk of %llu bytes cannot hold the %.0f bytes of its shape "
                     "(deflate expands at most 1032-fold): a damaged file", (unsigned long long)bytes, chunk_bytes);
            return -1;
        }

        int i = rank - 1;
        while (i >= 0 && at[i] == last[i]) {
            at[i] = first[i];
            i--;
        }
        if (i < 0) return 0;
        at[i]++;
    }
}

int chdf5_read_hyperslab(int64_t dataset_id, int32_t rank, const uint64_t *start, const uint64_t *count,
                         void *buffer, size_t capacity, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t dset = (hid_t)dataset_id;
    if (rank < 1 || rank > 8) {
        snprintf(error, cap, "bad rank %d", rank);
        return -1;
    }
    hsize_t s[8], c[8];
    size_t elements = 1;
    for (int i = 0; i < rank; i++) {
        s[i] = start[i];
        c[i] = count[i];
        elements *= (size_t)count[i];
    }
    hid_t file_type = H5Dget_type(dset);
    if (file_type < 0) return fail(error, cap, "cannot read the datatype");
    hid_t mem_type = native_type_for(file_type);
    H5Tclose(file_type);
    if (mem_type < 0) return fail(error, cap, "cannot map the datatype to a native type");
    size_t need = elements * H5Tget_size(mem_type);
    if (need > capacity) {
        H5Tclose(mem_type);
        snprintf(error, cap, "buffer of %zu bytes is too small for %zu", capacity, need);
        return -1;
    }
    if (hyperslab_written(dset, rank, s, c, error, cap) != 0) {
        H5Tclose(mem_type);
        return -1;
    }
    hid_t file_space = H5Dget_space(dset);
    hid_t mem_space = H5Screate_simple(rank, c, NULL);
    int status = -1;
    if (file_space >= 0 && mem_space >= 0 &&
        H5Sselect_hyperslab(file_space, H5S_SELECT_SET, s, NULL, c, NULL) >= 0 &&
        H5Dread(dset, mem_type, mem_space, file_space, H5P_DEFAULT, buffer) >= 0) {
        status = 0;
    }
    if (status != 0) fail(error, cap, "cannot read the data");
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    H5Tclose(mem_type);
    return status;
}

/* The first number of a numeric dataset: 0 with it in `*value`; -1 when there is no such
   dataset or it holds no numbers (a string, say); -3 when it claims a number type no file can
   hold. libhdf5 converts through a buffer of the file type's size, and a damaged type message
   stating 4294967295-byte floats made it allocate 4 GB for a 13 kB file (libFuzzer). Only the
   first element is selected: a damaged dataspace can claim billions of them. */
int chdf5_read_scalar_double(int64_t file_id, const char *path, double *value, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (!chdf5_exists(file_id, path)) {
        snprintf(error, cap, "no dataset at '%s'", path);
        return -1;
    }
    hid_t dset = H5Dopen2((hid_t)file_id, path, H5P_DEFAULT);
    if (dset < 0) return fail(error, cap, "cannot open the dataset");
    hid_t type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0) H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        H5Dclose(dset);
        snprintf(error, cap, "'%s' does not hold numbers", path);
        return -1;
    }
    if (size == 0 || size > 16) {
        H5Dclose(dset);
        snprintf(error, cap, "'%s' claims %zu-byte %s: a damaged file", path, size,
                 cls == H5T_FLOAT ? "floats" : "integers");
        return -3;
    }
    hid_t space = H5Dget_space(dset);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int status = -1;
    hsize_t start[8] = {0}, count[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    /* The number's storage is checked as a frame's is (libFuzzer: a compact scalar stored in 0
       bytes; libhdf5 copied from NULL, a crash of the plain build too). */
    char why[256];
    if (rank >= 0 && rank <= 8 && n >= 1 && (unfiltered_chunks_consistent(dset, why, sizeof why) != 0 ||
                                             hyperslab_written(dset, rank, start, count, why, sizeof why) != 0)) {
        snprintf(error, cap, "'%s': %s", path, why);
        H5Sclose(space);
        H5Dclose(dset);
        return -3;
    }
    if (rank >= 0 && rank <= 8 && n >= 1) {
        hsize_t one = 1;
        hid_t mem = H5Screate_simple(1, &one, NULL);
        double first = 0;
        if (mem >= 0 && (rank == 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0) &&
            H5Dread(dset, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &first) >= 0) {
            *value = first;
            status = 0;
        }
        if (mem >= 0) H5Sclose(mem);
    }
    if (status != 0) fail(error, cap, "cannot read a number");
    if (space >= 0) H5Sclose(space);
    H5Dclose(dset);
    return status;
}

/* The time a child process gets (BEAMLINE_HDF5_STRING_TIMEOUT_MS, default 2000 ms). */
static long child_timeout_ms(void) {
    const char *setting = getenv("BEAMLINE_HDF5_STRING_TIMEOUT_MS");
    long timeout_ms = setting ? strtol(setting, NULL, 10) : 0;
    return timeout_ms > 0 ? timeout_ms : 2000;
}

static long milliseconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* In a child process that tries what may crash: die of the signal itself, silently (no Swift
   backtrace, no sanitizer report: the parent tells the user). */
static void become_disposable(void) {
    /* The lock is held by the forking thread, whose id this process does not have: a fresh one
       (this process has one thread, and it never returns to the caller). */
    pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    shim_lock = fresh;
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) signal(signals[i], SIG_DFL);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        close(devnull);
    }
}

/* A disposable child's end: the exit system call itself, not _exit(), which sanitizer runtimes
   intercept to check the whole inherited heap for leaks (an ASan build then spent most of each
   probe there); and no exit handler of the parent's runs twice. */
static void leave_child(int status) {
    syscall(SYS_exit_group, status);
    _exit(status); /* not reached */
}

/* Reads what a child writes to `fd` into `buffer`, until the child closes its end (it has gone),
   the buffer is full, or `timeout_ms` has passed since the call (`*timed_out` then set). */
static size_t read_from_child(int fd, char *buffer, size_t cap, long timeout_ms, int *timed_out) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t got = 0;
    while (got < cap) {
        long elapsed = milliseconds_since(&start);
        if (elapsed >= timeout_ms) {
            *timed_out = 1;
            break;
        }
        struct pollfd wait_for = {fd, POLLIN, 0};
        int ready = poll(&wait_for, 1, (int)(timeout_ms - elapsed));
        if (ready <= 0) continue; /* EINTR, or the time is up (checked above) */
        ssize_t n = read(fd, buffer + got, cap - got);
        if (n <= 0) break; /* the child has gone */
        got += (size_t)n;
    }
    return got;
}

/* Reads a variable-length string; its characters live in a global heap collection elsewhere in
   the file. */
static int read_variable_string(hid_t obj, hid_t type, int is_attribute, char *buffer, size_t buffer_cap) {
    int status = -1;
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    /* HDF5 does not convert between ASCII and UTF-8: read in the file's own set (h5py writes UTF-8). */
    H5Tset_cset(mem, H5Tget_cset(type));
    char *text = NULL;
    herr_t r = is_attribute ? H5Aread(obj, mem, &text) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
    if (r >= 0 && text) {
        snprintf(buffer, buffer_cap, "%s", text);
        status = 0;
        H5free_memory(text);
    }
    H5Tclose(mem);
    return status;
}

/* libhdf5 1.10 loops for ever on a global heap collection holding an object of index 0 and size 0
   (H5HG__cache_heap_deserialize: the cursor never advances; found by libFuzzer). A variable-length
   string is therefore read in a child process that is killed when it does not answer within
   BEAMLINE_HDF5_STRING_TIMEOUT_MS (default 2000): -2 then, instead of a hang. Reading a string
   takes microseconds; the fork costs about a millisecond and happens only for variable-length
   strings (NeXus attributes as h5py writes them). */
static int read_variable_string_guarded(hid_t obj, hid_t type, int is_attribute, char *buffer, size_t buffer_cap) {
    long timeout_ms = child_timeout_ms();
    if (buffer_cap > 3000) buffer_cap = 3000; /* one atomic pipe write (PIPE_BUF >= 4096) */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return read_variable_string(obj, type, is_attribute, buffer, buffer_cap);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return read_variable_string(obj, type, is_attribute, buffer, buffer_cap);
    }
    if (pid == 0) {
        /* The child: read, send (status, text), leave without running any exit handler. */
        become_disposable();
        close(fds[0]);
        char message[4096];
        int status = read_variable_string(obj, type, is_attribute, message + sizeof(int), buffer_cap);
        memcpy(message, &status, sizeof(int));
        size_t length = sizeof(int) + (status == 0 ? strnlen(message + sizeof(int), buffer_cap - 1) + 1 : 0);
        ssize_t written = write(fds[1], message, length);
        leave_child(written == (ssize_t)length ? 0 : 1);
    }
    close(fds[1]);
    char reply[4096];
    int timed_out = 0;
    size_t got = read_from_child(fds[0], reply, sizeof reply, timeout_ms, &timed_out);
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (timed_out) return -2;
    int status = -1;
    if (got < sizeof(int)) return -1;
    memcpy(&status, reply, sizeof(int));
    if (status != 0 || got == sizeof(int)) return -1;
    reply[got - 1 < sizeof reply ? got - 1 : sizeof reply - 1] = 0;
    snprintf(buffer, buffer_cap, "%s", reply + sizeof(int));
    return 0;
}

static int read_string_from(hid_t obj, hid_t type, int is_attribute, char *buffer, size_t buffer_cap) {
    int status = -1;
    /* One string only: the buffers below hold one. A damaged file's attribute with a large
       dataspace would overrun them, and converting its millions of strings hangs (libFuzzer). */
    hid_t space = is_attribute ? H5Aget_space(obj) : H5Dget_space(obj);
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (points != 1) return -1;
    if (H5Tis_variable_str(type) <= 0 && H5Tget_size(type) > (1u << 20)) return -1;
    if (H5Tis_variable_str(type) > 0) {
        return read_variable_string_guarded(obj, type, is_attribute, buffer, buffer_cap);
    } else {
        size_t size = H5Tget_size(type);
        char *text = calloc(size + 1, 1);
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, size + 1);
        H5Tset_cset(mem, H5Tget_cset(type));
        herr_t r = is_attribute ? H5Aread(obj, mem, text) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, text);
        if (r >= 0) {
            snprintf(buffer, buffer_cap, "%s", text);
            status = 0;
        }
        H5Tclose(mem);
        free(text);
    }
    return status;
}

int chdf5_read_scalar_string(int64_t file_id, const char *path, char *buffer, size_t buffer_cap,
                             char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (buffer_cap) buffer[0] = 0;
    if (!chdf5_exists(file_id, path)) {
        snprintf(error, cap, "no dataset at '%s'", path);
        return -1;
    }
    hid_t dset = H5Dopen2((hid_t)file_id, path, H5P_DEFAULT);
    if (dset < 0) return fail(error, cap, "cannot open the dataset");
    hid_t type = H5Dget_type(dset);
    int status = -1;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) {
        status = read_string_from(dset, type, 0, buffer, buffer_cap);
    }
    if (status == -2) {
        snprintf(error, cap, "libhdf5 did not finish reading the string at '%s' (a damaged global heap)", path);
    } else if (status != 0) {
        fail(error, cap, "not a readable string");
    }
    if (type >= 0) H5Tclose(type);
    H5Dclose(dset);
    return status;
}

int chdf5_read_string_attribute(int64_t file_id, const char *path, const char *name,
                                char *buffer, size_t buffer_cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (buffer_cap) buffer[0] = 0;
    if (!chdf5_exists(file_id, path)) return -1;
    if (H5Aexists_by_name((hid_t)file_id, path, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t attr = H5Aopen_by_name((hid_t)file_id, path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    hid_t type = H5Aget_type(attr);
    int status = -1;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) status = read_string_from(attr, type, 1, buffer, buffer_cap);
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    H5Eclear2(H5E_DEFAULT);
    return status;
}

static hid_t create_groups_for(hid_t file, const char *dataset_path) {
    /* Creates every missing parent group of dataset_path. */
    char partial[1024];
    size_t len = strlen(dataset_path);
    if (len >= sizeof partial) return -1;
    for (size_t i = 1; i < len; i++) {
        if (dataset_path[i] == '/') {
            memcpy(partial, dataset_path, i);
            partial[i] = 0;
            if (H5Lexists(file, partial, H5P_DEFAULT) <= 0) {
                hid_t g = H5Gcreate2(file, partial, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g < 0) return -1;
                H5Gclose(g);
            }
        }
    }
    return 0;
}

int chdf5_write_float_stack(const char *path, const char *dataset_path,
                            const float *frames, uint64_t count, uint64_t height, uint64_t width,
                            int32_t gzip_level,
                            const char *const *meta_names, const double *meta_values, int32_t meta_count,
                            char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return fail(error, cap, "cannot create the file");
    int status = -1;
    hsize_t dims[3] = {count, height, width};
    hsize_t chunk[3] = {1, height, width};
    hid_t space = -1, dcpl = -1, dset = -1;
    if (create_groups_for(file, dataset_path) < 0) goto done;
    space = H5Screate_simple(3, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0) goto done;
    if (count > 0 && height > 0 && width > 0) {
        H5Pset_chunk(dcpl, 3, chunk);
        if (gzip_level > 0) H5Pset_deflate(dcpl, (unsigned)gzip_level);
    }
    dset = H5Dcreate2(file, dataset_path, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset < 0) goto done;
    if (H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, frames) < 0) goto done;
    for (int32_t i = 0; i < meta_count; i++) {
        if (create_groups_for(file, meta_names[i]) < 0) goto done;
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(file, meta_names[i], H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        herr_t w = d >= 0 ? H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &meta_values[i]) : -1;
        if (d >= 0) H5Dclose(d);
        H5Sclose(s);
        if (w < 0) goto done;
    }
    status = 0;
done:
    if (status != 0) fail(error, cap, "cannot write the data");
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (H5Fclose(file) < 0 && status == 0) status = fail(error, cap, "cannot close the file");
    return status;
}

typedef struct {
    hid_t file;
    char *buffer;
    size_t cap;
    size_t needed;
    /* Hard links whose object libhdf5 could not open (the listing passes over them). */
    size_t unopened;
} object_lister;

static herr_t list_one(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    object_lister *l = data;
    if (info->type != H5L_TYPE_HARD && info->type != H5L_TYPE_SOFT) return 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        if (info->type == H5L_TYPE_HARD) l->unopened++;
        return 0;
    }
    H5I_type_t kind = H5Iget_type(obj);
    H5Oclose(obj);
    char tag = kind == H5I_GROUP ? 'G' : kind == H5I_DATASET ? 'D' : 0;
    if (!tag) return 0;
    size_t length = strlen(name) + 4; /* tag, space, slash, newline */
    if (l->needed + length < l->cap) {
        snprintf(l->buffer + l->needed, l->cap - l->needed, "%c /%s\n", tag, name);
    }
    l->needed += length;
    return 0;
}

static int list_objects(int64_t file_id, char *buffer, size_t buffer_cap, size_t *needed, size_t *unopened,
                        char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (buffer_cap) buffer[0] = 0;
    object_lister l = {(hid_t)file_id, buffer, buffer_cap, 0, 0};
    if (H5Lvisit((hid_t)file_id, H5_INDEX_NAME, H5_ITER_INC, list_one, &l) < 0) {
        return fail(error, cap, "cannot list the file's objects");
    }
    *needed = l.needed + 1;
    if (unopened) *unopened = l.unopened;
    if (l.needed < buffer_cap) buffer[l.needed] = 0;
    return 0;
}

int chdf5_list_objects(int64_t file_id, char *buffer, size_t buffer_cap, size_t *needed,
                       char *error, size_t cap) {
    return list_objects(file_id, buffer, buffer_cap, needed, NULL, error, cap);
}

/* The longest refusal a probe child passes back. */
enum { probe_message_bytes = 256 };

/* What a probe child does: opens the file, lists it and opens every dataset with its type,
   space and filters, as the readers will, then leaves: status 0 when it got through, 6 when
   libhdf5 refused to open the file (its words copied into `report`, memory shared with the
   parent that holds no descriptor: the reader does not open
   such a file itself, for libhdf5 parses a damaged file differently in a process with another
   history: a refusal here was a SEGV in a long-running fuzzer), 5 when that refusal was for want
   of memory, 3 when the groups cannot all be listed. A
   file whose groups cannot all be listed is damaged where lookups by path go too: libhdf5 1.10
   then dereferences NULL looking up a name in such a group's symbol table (libFuzzer: H5Lexists,
   in H5F__accum_read). */
static void probe_and_leave(const char *path, char *report) {
    /* Opening and listing a file takes megabytes. A damaged object header or heap can claim
       gigabytes, which libhdf5 allocates before reading (libFuzzer: 4 GB for a 13 kB file, in
       H5O_protect): here, with the address space capped at 1 GB above what this child
       inherited, that allocation fails, the listing fails, and the file is refused, before the
       reader asks the same of its own process. */
    char statm[64] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, statm, sizeof statm - 1);
        close(fd);
        unsigned long long pages = n > 0 ? strtoull(statm, NULL, 10) : 0;
        long page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) {
            struct rlimit cap = {pages * (unsigned long long)page + (1ull << 30),
                                 pages * (unsigned long long)page + (1ull << 30)};
            setrlimit(RLIMIT_AS, &cap);
        }
    }
    char message[256];
    int64_t file = -1;
    if (chdf5_file_open(path, &file, message, sizeof message) != 0) {
        /* Refused for want of memory under the cap: the reader's own process, uncapped, could get
           that memory and let libhdf5 read a damaged header into it (libFuzzer: a SEGV in H5Fopen,
           H5O chunk deserialisation, in a long-running process): exit status 5. Any other refusal
           is passed back in libhdf5's own words (a truncated file says so). */
        if (strstr(message, "memory allocation failed") || strstr(message, "unable to allocate") ||
            strstr(message, "null after H5MM_realloc")) {
            leave_child(5);
        }
        if (report) {
            size_t length = strnlen(message, probe_message_bytes - 1);
            memcpy(report, message, length);
            report[length] = 0;
        }
        leave_child(6);
    }
    size_t needed = 0, unopened = 0;
    char probe[1];
    if (list_objects(file, probe, sizeof probe, &needed, &unopened, message, sizeof message) != 0) leave_child(3);
    /* A hard link always leads to an object header: one libhdf5 cannot open is damaged, and
       the reader's own listing would try it again (exit status 4). */
    if (unopened > 0) leave_child(4);
    char *listing = malloc(needed + 1);
    if (!listing) leave_child(0);
    if (list_objects(file, listing, needed + 1, &needed, NULL, message, sizeof message) != 0) leave_child(3);
    for (char *line = strtok(listing, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != 'D' || line[1] != ' ') continue;
        int64_t dataset = -1;
        chdf5_dataset_info info;
        if (chdf5_dataset_open(file, line + 2, &dataset, message, sizeof message) != 0) continue;
        chdf5_dataset_info_get(dataset, &info, message, sizeof message);
        chdf5_dataset_close(dataset);
    }
    leave_child(0);
}

/* The probe server: a process forked from this one the first time a file is probed, that forks
   the probe children from then on. fork() copies the page tables of the process that calls it,
   and a reduction's process holds hundreds of MB by its next HDF5 file (a sanitized fuzzer, more):
   forking the small server instead costs a fraction of that. Requests are a file's absolute
   path; for each the server answers the child's pid at once (a `probe_started`), then, when it
   has gone, its wait status and what it reported (a `probe_finished`), on a SOCK_SEQPACKET
   socket (one message each). The server leaves when this process
   closes its end, and the kernel kills it with the thread that started it (PR_SET_PDEATHSIG;
   the next probe then starts another). Guarded by the shim lock, like everything here. */
static struct {
    pid_t pid;
    int socket;
} probe_server = {-1, -1};

typedef struct {
    int32_t pid;
    int32_t unused;
} probe_started;

typedef struct {
    int32_t pid;
    int32_t status;
    char message[probe_message_bytes]; /* NUL-terminated; empty when the child reported nothing */
} probe_finished;

/* Memory a probe child copies its refusal into and its parent reads once it has gone: shared by
   the fork, with no descriptor that either side could leave open. NULL when none can be had. */
static char *report_page(void) {
    void *page = mmap(NULL, probe_message_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? NULL : page;
}

/* What a finished child left in `report` (NULL: nothing), NUL-terminated in `message`. */
static void take_report(const char *report, char message[probe_message_bytes]) {
    message[0] = 0;
    if (!report) return;
    memcpy(message, report, probe_message_bytes);
    message[probe_message_bytes - 1] = 0;
}

static void serve_probes(int socket, pid_t client) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != client) leave_child(0); /* the client went before the line above */
    signal(SIGCHLD, SIG_DFL); /* the children's statuses are waited for, whatever the client chose */
    /* Nothing of the client's stays open here: an inherited descriptor would keep its files'
       locks (libhdf5 flocks the files it opens) and its pipes' ends alive after it closed them. */
    if (socket != 3) {
        if (dup2(socket, 3) != 3) leave_child(0);
        socket = 3;
    }
    if (syscall(SYS_close_range, 4u, ~0u, 0u) != 0) {
        for (int fd = 4; fd < 65536; fd++) close(fd);
    }
    char *report = report_page();
    for (;;) {
        char path[PATH_MAX + 1];
        ssize_t n = recv(socket, path, sizeof path - 1, 0);
        if (n <= 0) leave_child(0);
        path[n] = 0;
        if (report) memset(report, 0, probe_message_bytes);
        pid_t child = fork();
        if (child == 0) {
            close(socket);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            probe_and_leave(path, report);
        }
        probe_started started = {child, 0};
        if (send(socket, &started, sizeof started, MSG_NOSIGNAL) != (ssize_t)sizeof started) leave_child(0);
        if (child < 0) continue;
        probe_finished finished = {child, 0, {0}};
        while (waitpid(child, &finished.status, 0) < 0 && errno == EINTR) {}
        take_report(report, finished.message);
        if (send(socket, &finished, sizeof finished, MSG_NOSIGNAL) != (ssize_t)sizeof finished) leave_child(0);
    }
}

static void stop_probe_server(void) {
    if (probe_server.socket >= 0) close(probe_server.socket);
    if (probe_server.pid > 0) {
        kill(probe_server.pid, SIGKILL);
        while (waitpid(probe_server.pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    probe_server.pid = -1;
    probe_server.socket = -1;
}

static int start_probe_server(void) {
    /* The server would inherit libhdf5's table of open files without their descriptors (it closes
       them), and libhdf5 gives a second open of a file already open the inherited entry: its
       children then fail to read a sound file. So no server while anything is open here; the
       probe's child is forked from this process instead, whose descriptors it keeps. */
    if (H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) return -1;
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return -1;
    pid_t client = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(ends[0]);
        close(ends[1]);
        return -1;
    }
    if (pid == 0) {
        become_disposable();
        close(ends[0]);
        serve_probes(ends[1], client);
    }
    close(ends[1]);
    probe_server.pid = pid;
    probe_server.socket = ends[0];
    return 0;
}

int chdf5_probe_server_start(void) {
    HOLD_SHIM_LOCK();
    if (probe_server.socket >= 0) return 0;
    return start_probe_server();
}

int chdf5_probe_server_pid(void) {
    HOLD_SHIM_LOCK();
    return probe_server.socket >= 0 ? (int)probe_server.pid : -1;
}

/* Probes `path` in a child of the server: 0 with the child's wait status and report, -2 when it
   did not finish within `timeout_ms` (killed), -1 when there is no working server (stopped; the
   caller forks the child itself). */
static int probe_through_server(const char *path, long timeout_ms, int *status,
                                char message[probe_message_bytes]) {
    if (probe_server.socket < 0 && start_probe_server() != 0) return -1;
    char absolute[PATH_MAX + 1];
    if (path[0] == '/') {
        if (snprintf(absolute, sizeof absolute, "%s", path) >= (int)sizeof absolute) return -1;
    } else {
        char here[PATH_MAX];
        if (!getcwd(here, sizeof here)) return -1;
        if (snprintf(absolute, sizeof absolute, "%s/%s", here, path) >= (int)sizeof absolute) return -1;
    }
    size_t length = strlen(absolute);
    probe_started started;
    probe_finished finished;
    int timed_out = 0;
    if (send(probe_server.socket, absolute, length, MSG_NOSIGNAL) != (ssize_t)length ||
        read_from_child(probe_server.socket, (char *)&started, sizeof started, timeout_ms, &timed_out)
            != sizeof started ||
        started.pid <= 0) {
        stop_probe_server(); /* gone, or no child to spare: the caller forks one */
        return -1;
    }
    pid_t child = started.pid;
    size_t got = read_from_child(probe_server.socket, (char *)&finished, sizeof finished, timeout_ms, &timed_out);
    if (timed_out) {
        kill(child, SIGKILL);
        timed_out = 0;
        got = read_from_child(probe_server.socket, (char *)&finished, sizeof finished, 5000, &timed_out);
        if (got != sizeof finished || finished.pid != child) stop_probe_server();
        return -2;
    }
    if (got != sizeof finished || finished.pid != child) {
        stop_probe_server();
        return -1;
    }
    *status = finished.status;
    memcpy(message, finished.message, probe_message_bytes);
    message[probe_message_bytes - 1] = 0;
    return 0;
}

/* libhdf5 1.10 crashes on some damaged files while merely opening their datasets (libFuzzer found a
   chunked layout that makes H5D__chunk_set_sizes write out of bounds). Before a file is used, a
   child process opens it, lists it and opens every dataset (probe_and_leave): 0 when the child
   finished, -1 with the reason when it crashed, could not list the file, or did not finish within
   the time limit (BEAMLINE_HDF5_STRING_TIMEOUT_MS, default 2000 ms; listing a file takes
   milliseconds). The child is the probe server's when there is one, this process's otherwise. */
int chdf5_probe_file(const char *path, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    long timeout_ms = child_timeout_ms();
    int status = 0;
    char report[probe_message_bytes] = {0};
    int outcome = probe_through_server(path, timeout_ms, &status, report);
    if (outcome == -1) {
        /* The child holds the write end of a pipe and writes nothing: the parent's poll returns
           when the child has gone (end of file), however it went, without polling on a clock. */
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) return 0; /* no pipe to spare: the readers go on unguarded */
        char *shared = report_page();
        pid_t pid = fork();
        if (pid < 0) { /* no child to spare: the readers go on unguarded */
            close(fds[0]);
            close(fds[1]);
            if (shared) munmap(shared, probe_message_bytes);
            return 0;
        }
        if (pid == 0) {
            become_disposable();
            close(fds[0]);
            probe_and_leave(path, shared);
        }
        close(fds[1]);
        int timed_out = 0;
        char ignored[64];
        /* The child writes nothing: anything read means it is not the child it should be. */
        size_t unexpected = read_from_child(fds[0], ignored, sizeof ignored, timeout_ms, &timed_out);
        close(fds[0]);
        if (timed_out || unexpected) kill(pid, SIGKILL);
        int waited = 0;
        while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
        take_report(shared, report);
        if (shared) munmap(shared, probe_message_bytes);
        if (waited < 0) return 0;
        outcome = timed_out ? -2 : 0;
    }
    if (outcome == -2) {
        snprintf(error, cap, "libhdf5 did not finish opening the file's datasets within %ld ms (a damaged file)",
                 timeout_ms);
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(error, cap, "libhdf5 crashed opening the file's datasets (signal %d): a damaged file",
                 WTERMSIG(status));
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        snprintf(error, cap, "libhdf5 cannot list the file's groups: a damaged file");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 4) {
        snprintf(error, cap, "libhdf5 cannot open an object the file links to: a damaged file");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 6) {
        snprintf(error, cap, "%s", report[0] ? report : "cannot open: libhdf5 refuses the file");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
        snprintf(error, cap, "opening the file, libhdf5 asks for more memory than a file of this size can "
                 "justify (a header claims it): a damaged file");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        /* Not one of the child's own statuses: something in it ended the process (a sanitizer
           runtime's out-of-memory report does, where a plain allocation would return NULL). */
        snprintf(error, cap, "opening the file's datasets ended the probe process (exit status %d): a damaged file",
                 WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

/* ---- Writing ---------------------------------------------------------------------------- */

int chdf5_create_file(const char *path, int64_t *file_id, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    *file_id = -1;
    hid_t id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) return fail(error, cap, "cannot create the file");
    *file_id = id;
    return 0;
}

int chdf5_close_written_file(int64_t file_id, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (H5Fflush((hid_t)file_id, H5F_SCOPE_LOCAL) < 0) {
        fail(error, cap, "cannot write the file");
        H5Fclose((hid_t)file_id);
        return -1;
    }
    if (H5Fclose((hid_t)file_id) < 0) return fail(error, cap, "cannot close the file");
    return 0;
}

static hid_t utf8_string_type(void) {
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0) return -1;
    if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

static int set_string_attribute(hid_t object, const char *name, const char *const *values, uint64_t count,
                                int scalar) {
    hid_t type = utf8_string_type();
    hsize_t dims[1] = {count};
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    int status = -1;
    if (type >= 0 && space >= 0) {
        if (H5Aexists(object, name) > 0) H5Adelete(object, name);
        hid_t attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) {
            status = H5Awrite(attr, type, values) < 0 ? -1 : 0;
            H5Aclose(attr);
        }
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return status;
}

int chdf5_write_group(int64_t file_id, const char *path, const char *nx_class, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t file = (hid_t)file_id;
    if (create_groups_for(file, path) < 0) return fail(error, cap, "cannot create the parent groups");
    hid_t group = H5Lexists(file, path, H5P_DEFAULT) > 0
                      ? H5Gopen2(file, path, H5P_DEFAULT)
                      : H5Gcreate2(file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) return fail(error, cap, "cannot create the group");
    int status = 0;
    if (nx_class && set_string_attribute(group, "NX_class", &nx_class, 1, 1) < 0) status = -1;
    H5Gclose(group);
    return status < 0 ? fail(error, cap, "cannot write NX_class") : 0;
}

int chdf5_write_doubles(int64_t file_id, const char *path, const double *values, int32_t rank,
                        const uint64_t *dims, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t file = (hid_t)file_id;
    if (rank < 0 || rank > 8) {
        snprintf(error, cap, "bad rank %d", rank);
        return -1;
    }
    if (create_groups_for(file, path) < 0) return fail(error, cap, "cannot create the parent groups");
    hsize_t shape[8];
    uint64_t total = 1;
    for (int32_t i = 0; i < rank; i++) {
        shape[i] = dims[i];
        total *= dims[i];
    }
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, shape, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int status = -1;
    if (space >= 0 && dcpl >= 0) {
        if (rank > 0 && total >= 4096) {
            /* Chunks of whole rows (the last dimension), compressed: patterns compress about twice. */
            hsize_t chunk[8];
            for (int32_t i = 0; i < rank; i++) {
                chunk[i] = (i == rank - 1 || shape[i] == 0) ? (shape[i] ? shape[i] : 1) : 1;
            }
            H5Pset_chunk(dcpl, rank, chunk);
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 4);
        }
        hid_t dset = H5Dcreate2(file, path, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (dset >= 0) {
            herr_t written = total == 0 ? 0 : H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
            status = written >= 0 ? 0 : -1;
            H5Dclose(dset);
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return status < 0 ? fail(error, cap, "cannot write the dataset") : 0;
}

int chdf5_write_strings(int64_t file_id, const char *path, const char *const *values, uint64_t count,
                        int32_t scalar, char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t file = (hid_t)file_id;
    if (scalar && count != 1) {
        snprintf(error, cap, "a scalar string needs one value, not %llu", (unsigned long long)count);
        return -1;
    }
    if (create_groups_for(file, path) < 0) return fail(error, cap, "cannot create the parent groups");
    hid_t type = utf8_string_type();
    hsize_t dims[1] = {count};
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    int status = -1;
    if (type >= 0 && space >= 0) {
        hid_t dset = H5Dcreate2(file, path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (dset >= 0) {
            status = (count == 0 || H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0) ? 0 : -1;
            H5Dclose(dset);
        }
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return status < 0 ? fail(error, cap, "cannot write the strings") : 0;
}

int chdf5_write_string_attribute(int64_t file_id, const char *path, const char *name,
                                 const char *const *values, uint64_t count, int32_t scalar,
                                 char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    if (scalar && count != 1) {
        snprintf(error, cap, "a scalar attribute needs one value");
        return -1;
    }
    hid_t object = H5Oopen((hid_t)file_id, path, H5P_DEFAULT);
    if (object < 0) return fail(error, cap, "no object to attach the attribute to");
    int status = set_string_attribute(object, name, values, count, scalar);
    H5Oclose(object);
    return status < 0 ? fail(error, cap, "cannot write the attribute") : 0;
}

int chdf5_write_double_attribute(int64_t file_id, const char *path, const char *name, double value,
                                 char *error, size_t cap) {
    HOLD_SHIM_LOCK();
    quiet();
    hid_t object = H5Oopen((hid_t)file_id, path, H5P_DEFAULT);
    if (object < 0) return fail(error, cap, "no object to attach the attribute to");
    hid_t space = H5Screate(H5S_SCALAR);
    int status = -1;
    if (space >= 0) {
        if (H5Aexists(object, name) > 0) H5Adelete(object, name);
        hid_t attr = H5Acreate2(object, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) {
            status = H5Awrite(attr, H5T_NATIVE_DOUBLE, &value) < 0 ? -1 : 0;
            H5Aclose(attr);
        }
        H5Sclose(space);
    }
    H5Oclose(object);
    return status < 0 ? fail(error, cap, "cannot write the attribute") : 0;
}
