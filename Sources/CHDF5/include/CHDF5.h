#ifndef CHDF5_H
#define CHDF5_H

#include <stddef.h>
#include <stdint.h>

/*
 * A small, macro-free API over libhdf5 for Swift.
 *
 * HDF5's identifiers (hid_t), property defaults (H5P_DEFAULT) and native
 * types (H5T_NATIVE_*) are macros or library globals; this shim hides them.
 * HDF5's automatic error printing is switched off for every call: on failure
 * a function returns -1 and fills the caller's buffer with the messages of
 * HDF5's error stack.
 */

enum {
    CHDF5_CLASS_INTEGER = 0,
    CHDF5_CLASS_FLOAT = 1,
    CHDF5_CLASS_STRING = 2,
    CHDF5_CLASS_OTHER = 3,
};

typedef struct chdf5_dataset_info {
    int32_t rank;
    uint64_t dims[8];
    int32_t type_class;      /* CHDF5_CLASS_* */
    uint32_t type_size;      /* bytes per element */
    int32_t is_signed;
    int32_t filter_count;
    /* The first filter of the pipeline that is not available (no plugin),
       or -1 when every filter can be applied. */
    int32_t missing_filter_id;
    char missing_filter_name[128];
} chdf5_dataset_info;

int chdf5_file_open(const char *path, int64_t *file_id, char *error, size_t cap);

/* Opens the file, lists it and opens every dataset in a child process: -1 with the reason when
   libhdf5 crashed or hung doing so (it does on some damaged files), 0 otherwise. */
int chdf5_probe_file(const char *path, char *error, size_t cap);
/* Starts the process that forks the probe children of chdf5_probe_file (it otherwise starts with
   the first probe): 0 when it runs. A process that grows large, or a fuzzer that installs
   allocation hooks, starts it first thing. */
int chdf5_probe_server_start(void);
/* The process id of that server, or -1 when none runs. */
int chdf5_probe_server_pid(void);

int chdf5_file_close(int64_t file_id);

/* 1 if an object (group or dataset) exists at path, 0 if not. */
int chdf5_exists(int64_t file_id, const char *path);

int chdf5_dataset_open(int64_t file_id, const char *path, int64_t *dataset_id, char *error, size_t cap);
int chdf5_dataset_close(int64_t dataset_id);
int chdf5_dataset_info_get(int64_t dataset_id, chdf5_dataset_info *info, char *error, size_t cap);

/* Reads the hyperslab [start, start + count) of a dataset of rank `rank`
   into buffer, in the dataset's own numeric type (native byte order).
   capacity is the buffer size in bytes. */
int chdf5_read_hyperslab(int64_t dataset_id, int32_t rank, const uint64_t *start,
                         const uint64_t *count, void *buffer, size_t capacity,
                         char *error, size_t cap);

/* Reads a scalar (or first element of a) numeric dataset as a double: 0; -1 when there is none or it
   holds no numbers; -3 when its number type is one no file can hold (a damaged file). */
int chdf5_read_scalar_double(int64_t file_id, const char *path, double *value, char *error, size_t cap);

/* Reads a scalar string dataset (fixed or variable length) into buffer. Variable-length strings are
   read in a child process with a time limit (BEAMLINE_HDF5_STRING_TIMEOUT_MS, default 2000): -2
   when libhdf5 did not finish (it loops on some damaged global heaps). */
int chdf5_read_scalar_string(int64_t file_id, const char *path, char *buffer, size_t buffer_cap,
                             char *error, size_t cap);

/* Reads a string attribute `name` of the object at path (e.g. "units"): 0, -1 when there is none
   (or it is no single string), -2 when libhdf5 did not finish reading it (as above). */
int chdf5_read_string_attribute(int64_t file_id, const char *path, const char *name,
                                char *buffer, size_t buffer_cap);

/* Lists every group and dataset reachable by hard or soft links, one per line:
   "G /path" or "D /path", in name order. When buffer_cap is too small the
   buffer is left incomplete and *needed says how many bytes are needed. */
int chdf5_list_objects(int64_t file_id, char *buffer, size_t buffer_cap, size_t *needed,
                       char *error, size_t cap);

/* Writes a new file holding one dataset of float32 frames (count x height x
   width), chunked by frame and gzip-compressed at `level` (0 = none). Used
   by tests and by the simulator. Optional scalar double metadata datasets
   are written from the parallel arrays names/values. */
int chdf5_write_float_stack(const char *path, const char *dataset_path,
                            const float *frames, uint64_t count, uint64_t height, uint64_t width,
                            int32_t gzip_level,
                            const char *const *meta_names, const double *meta_values, int32_t meta_count,
                            char *error, size_t cap);

/*
 * Writing a results file (NeXus). Objects are named by absolute path; missing
 * parent groups are created. Strings are variable-length UTF-8, as h5py writes
 * them. Every function returns 0, or -1 with the error in the caller's buffer.
 */
int chdf5_create_file(const char *path, int64_t *file_id, char *error, size_t cap);
/* Flushes and closes a file opened for writing: a failure here means the file is incomplete. */
int chdf5_close_written_file(int64_t file_id, char *error, size_t cap);
/* A group with its NX_class attribute (none when nx_class is NULL). */
int chdf5_write_group(int64_t file_id, const char *path, const char *nx_class, char *error, size_t cap);
/* A float64 dataset of rank 0 to 8 (rank 0: a scalar), gzip-compressed when it is large. */
int chdf5_write_doubles(int64_t file_id, const char *path, const double *values, int32_t rank,
                        const uint64_t *dims, char *error, size_t cap);
/* A string dataset: a scalar when scalar != 0 (count must be 1), else one-dimensional. */
int chdf5_write_strings(int64_t file_id, const char *path, const char *const *values, uint64_t count,
                        int32_t scalar, char *error, size_t cap);
/* An attribute of the object at path: strings (scalar when scalar != 0) or one float64. */
int chdf5_write_string_attribute(int64_t file_id, const char *path, const char *name,
                                 const char *const *values, uint64_t count, int32_t scalar,
                                 char *error, size_t cap);
int chdf5_write_double_attribute(int64_t file_id, const char *path, const char *name, double value,
                                 char *error, size_t cap);

#endif
