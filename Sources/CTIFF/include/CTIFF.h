#ifndef CTIFF_H
#define CTIFF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A small, macro-free API over libtiff for Swift.
 *
 * Every function returns 0 on success and -1 on failure; on failure the
 * handle's (or the caller's) error buffer holds libtiff's own message.
 * libtiff never prints: its error and warning handlers are replaced by
 * per-handle handlers that record the message.
 */

typedef struct ctiff_file ctiff_file;

enum {
    CTIFF_SAMPLE_UINT = 1,
    CTIFF_SAMPLE_INT = 2,
    CTIFF_SAMPLE_FLOAT = 3,
};

enum {
    CTIFF_COMPRESSION_NONE = 1,
    CTIFF_COMPRESSION_LZW = 5,
    CTIFF_COMPRESSION_DEFLATE = 8,
};

typedef struct ctiff_page_info {
    uint32_t width;
    uint32_t height;
    uint16_t bits_per_sample;
    uint16_t sample_format;      /* CTIFF_SAMPLE_* */
    uint16_t samples_per_pixel;
    uint16_t planar_config;
    uint16_t compression;
    uint16_t photometric;
    int32_t is_tiled;
    uint32_t tile_width;
    uint32_t tile_height;
    uint32_t rows_per_strip;
} ctiff_page_info;

/* Opens for reading ("r") or writing ("w"). On failure *out is NULL and
   error holds the message. */
int ctiff_open(const char *path, const char *mode, ctiff_file **out,
               char *error, size_t error_capacity);
/* Flushes (for files opened for writing) and closes; -1 if the flush failed. */
int ctiff_close(ctiff_file *file);

/* The last error or warning recorded for this handle (empty if none). */
const char *ctiff_last_error(const ctiff_file *file);

/* Number of images (directories, "pages") in the file. */
int ctiff_page_count(ctiff_file *file, uint32_t *count);

int ctiff_page_info_get(ctiff_file *file, uint32_t page, ctiff_page_info *info);

/* Copies the ImageDescription tag of the page into buffer (NUL-terminated,
   truncated to capacity). An absent tag gives an empty string. */
int ctiff_page_description(ctiff_file *file, uint32_t page, char *buffer, size_t capacity);

/* Reads one sample plane (channel) of one page, row-major, native byte order,
   into buffer, which must hold width * height * bits_per_sample / 8 bytes.
   Pages with several samples per pixel (tifffile writes a stack this way) are
   read one plane at a time, planar or interleaved. Strips and tiles, any
   compression codec libtiff was built with. */
int ctiff_read_page(ctiff_file *file, uint32_t page, uint16_t sample, void *buffer, size_t capacity);

/* Appends a single-sample page to a file opened for writing. */
int ctiff_write_page(ctiff_file *file, uint32_t width, uint32_t height,
                     uint16_t bits_per_sample, uint16_t sample_format,
                     uint16_t compression, const void *data,
                     const char *description);

#endif
