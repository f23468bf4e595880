#include "CTIFF.h"

#include <fcntl.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

struct ctiff_file {
    TIFF *tiff;
    char error[1024];
};

static void record(char *dst, size_t cap, const char *module, const char *fmt, va_list ap) {
    char message[768];
    vsnprintf(message, sizeof message, fmt, ap);
    if (module && *module) {
        snprintf(dst, cap, "%s: %s", module, message);
    } else {
        snprintf(dst, cap, "%s", message);
    }
}

/* Per-handle handlers (libtiff >= 4.5): returning 1 stops libtiff from also
   calling the global handlers, so nothing reaches stderr. */
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    struct ctiff_file *file = user;
    record(file->error, sizeof file->error, module, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

int ctiff_open(const char *path, const char *mode, ctiff_file **out, char *error, size_t cap) {
    *out = NULL;
    if (error && cap) error[0] = 0;
    struct ctiff_file *file = calloc(1, sizeof *file);
    if (!file) {
        if (error) snprintf(error, cap, "out of memory");
        return -1;
    }
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) {
        free(file);
        if (error) snprintf(error, cap, "out of memory");
        return -1;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, file);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, file);
    file->tiff = TIFFOpenExt(path, mode, options);
    TIFFOpenOptionsFree(options);
    if (!file->tiff) {
        if (error) snprintf(error, cap, "%s", file->error[0] ? file->error : "cannot open");
        free(file);
        return -1;
    }
    *out = file;
    return 0;
}

int ctiff_close(ctiff_file *file) {
    if (!file) return 0;
    int status = 0;
    if (file->tiff) {
        /* TIFFClose flushes but reports nothing: flush first, so a full disk is an error. */
        if (TIFFGetMode(file->tiff) != O_RDONLY && !TIFFFlush(file->tiff)) status = -1;
        TIFFClose(file->tiff);
    }
    free(file);
    return status;
}

const char *ctiff_last_error(const ctiff_file *file) {
    return file ? file->error : "";
}

int ctiff_page_count(ctiff_file *file, uint32_t *count) {
    tdir_t n = TIFFNumberOfDirectories(file->tiff);
    *count = (uint32_t)n;
    return 0;
}

static int select_page(ctiff_file *file, uint32_t page) {
    if (TIFFCurrentDirectory(file->tiff) == page) return 0;
    if (!TIFFSetDirectory(file->tiff, (tdir_t)page)) {
        if (!file->error[0]) snprintf(file->error, sizeof file->error, "page %u does not exist", page);
        return -1;
    }
    return 0;
}

int ctiff_page_info_get(ctiff_file *file, uint32_t page, ctiff_page_info *info) {
    file->error[0] = 0;
    if (select_page(file, page)) return -1;
    memset(info, 0, sizeof *info);
    TIFF *t = file->tiff;
    uint32_t u32 = 0;
    uint16_t u16 = 0;
    if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &u32)) {
        snprintf(file->error, sizeof file->error, "page %u has no ImageWidth tag", page);
        return -1;
    }
    info->width = u32;
    if (!TIFFGetField(t, TIFFTAG_IMAGELENGTH, &u32)) {
        snprintf(file->error, sizeof file->error, "page %u has no ImageLength tag", page);
        return -1;
    }
    info->height = u32;
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &u16);
    info->bits_per_sample = u16;
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &u16);
    info->sample_format = u16;
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &u16);
    info->samples_per_pixel = u16;
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &u16);
    info->planar_config = u16;
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &u16);
    info->compression = u16;
    if (TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &u16)) info->photometric = u16;
    info->is_tiled = TIFFIsTiled(t) ? 1 : 0;
    if (info->is_tiled) {
        TIFFGetField(t, TIFFTAG_TILEWIDTH, &info->tile_width);
        TIFFGetField(t, TIFFTAG_TILELENGTH, &info->tile_height);
    } else {
        TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &info->rows_per_strip);
    }
    return 0;
}

int ctiff_page_description(ctiff_file *file, uint32_t page, char *buffer, size_t cap) {
    file->error[0] = 0;
    if (cap) buffer[0] = 0;
    if (select_page(file, page)) return -1;
    char *text = NULL;
    if (TIFFGetField(file->tiff, TIFFTAG_IMAGEDESCRIPTION, &text) && text && cap) {
        snprintf(buffer, cap, "%s", text);
    }
    return 0;
}

/* Copies `rows` x `cols` samples of plane `sample` from a decoded block whose
   rows are `block_width` pixels of `stride` samples each. */
static void copy_block(uint8_t *dst, const ctiff_page_info *info, uint32_t x0, uint32_t y0,
                       const uint8_t *block, uint32_t block_width, uint32_t rows, uint32_t cols,
                       size_t bps, uint16_t stride, uint16_t sample) {
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t *out = dst + ((size_t)(y0 + r) * info->width + x0) * bps;
        const uint8_t *in = block + (size_t)r * block_width * stride * bps;
        if (stride == 1) {
            memcpy(out, in, (size_t)cols * bps);
        } else {
            for (uint32_t c = 0; c < cols; c++) memcpy(out + c * bps, in + ((size_t)c * stride + sample) * bps, bps);
        }
    }
}

static int read_tiled(ctiff_file *file, const ctiff_page_info *info, uint16_t sample, uint8_t *dst, size_t bps) {
    TIFF *t = file->tiff;
    int separate = info->planar_config == PLANARCONFIG_SEPARATE;
    uint16_t stride = separate ? 1 : info->samples_per_pixel;
    /* A tile is at most the image rounded up to the 16-pixel multiples TIFF asks of tiles; a
       header claiming more would have us allocate what it says (found by libFuzzer: 4 GB). */
    if (info->tile_width > info->width + 16 || info->tile_height > info->height + 16) {
        snprintf(file->error, sizeof file->error, "tiles of %ux%u are larger than the %ux%u image",
                 info->tile_width, info->tile_height, info->width, info->height);
        return -1;
    }
    tmsize_t tile_size = TIFFTileSize(t);
    if (tile_size <= 0) {
        if (!file->error[0]) snprintf(file->error, sizeof file->error, "invalid tile size");
        return -1;
    }
    uint8_t *tile = _TIFFmalloc(tile_size);
    if (!tile) {
        snprintf(file->error, sizeof file->error, "out of memory for a %lld-byte tile", (long long)tile_size);
        return -1;
    }
    uint32_t tw = info->tile_width, th = info->tile_height;
    if ((tmsize_t)((size_t)tw * th * stride * bps) > tile_size) {
        snprintf(file->error, sizeof file->error, "tile size %lld does not match %ux%u tiles", (long long)tile_size, tw, th);
        _TIFFfree(tile);
        return -1;
    }
    for (uint32_t y0 = 0; y0 < info->height; y0 += th) {
        for (uint32_t x0 = 0; x0 < info->width; x0 += tw) {
            ttile_t index = TIFFComputeTile(t, x0, y0, 0, separate ? sample : 0);
            if (TIFFReadEncodedTile(t, index, tile, tile_size) < 0) {
                if (!file->error[0]) snprintf(file->error, sizeof file->error, "cannot decode tile at (%u, %u)", x0, y0);
                _TIFFfree(tile);
                return -1;
            }
            uint32_t rows = (y0 + th > info->height) ? info->height - y0 : th;
            uint32_t cols = (x0 + tw > info->width) ? info->width - x0 : tw;
            copy_block(dst, info, x0, y0, tile, tw, rows, cols, bps, stride, sample);
        }
    }
    _TIFFfree(tile);
    return 0;
}

static int read_stripped(ctiff_file *file, const ctiff_page_info *info, uint16_t sample, uint8_t *dst, size_t bps) {
    TIFF *t = file->tiff;
    int separate = info->planar_config == PLANARCONFIG_SEPARATE;
    uint16_t stride = separate ? 1 : info->samples_per_pixel;
    size_t row_bytes = (size_t)info->width * stride * bps;
    uint32_t rps = info->rows_per_strip ? info->rows_per_strip : info->height;
    if (rps > info->height) rps = info->height;
    uint8_t *strip = NULL;
    if (stride > 1) {
        strip = malloc(rps * row_bytes);
        if (!strip) {
            snprintf(file->error, sizeof file->error, "out of memory for a strip");
            return -1;
        }
    }
    for (uint32_t first_row = 0; first_row < info->height; first_row += rps) {
        uint32_t rows = (first_row + rps > info->height) ? info->height - first_row : rps;
        tstrip_t s = TIFFComputeStrip(t, first_row, separate ? sample : 0);
        tmsize_t want = (tmsize_t)(rows * row_bytes);
        uint8_t *target = stride > 1 ? strip : dst + first_row * row_bytes;
        tmsize_t got = TIFFReadEncodedStrip(t, s, target, want);
        if (got < want) {
            if (got >= 0 || !file->error[0])
                snprintf(file->error, sizeof file->error, "cannot decode strip %u (%lld of %lld bytes; truncated file?)",
                         (unsigned)s, (long long)got, (long long)want);
            free(strip);
            return -1;
        }
        if (stride > 1) copy_block(dst, info, 0, first_row, strip, info->width, rows, info->width, bps, stride, sample);
    }
    free(strip);
    return 0;
}

int ctiff_read_page(ctiff_file *file, uint32_t page, uint16_t sample, void *buffer, size_t cap) {
    ctiff_page_info info;
    if (ctiff_page_info_get(file, page, &info)) return -1;
    if (sample >= info.samples_per_pixel) {
        snprintf(file->error, sizeof file->error, "page %u has no sample %u", page, sample);
        return -1;
    }
    if (info.bits_per_sample % 8 != 0 || info.bits_per_sample == 0 || info.bits_per_sample > 64) {
        snprintf(file->error, sizeof file->error, "page %u has %u bits per sample; not supported",
                 page, info.bits_per_sample);
        return -1;
    }
    size_t bps = info.bits_per_sample / 8;
    size_t need = (size_t)info.width * info.height * bps;
    if (cap < need) {
        snprintf(file->error, sizeof file->error, "buffer of %zu bytes is too small for %zu", cap, need);
        return -1;
    }
    return info.is_tiled ? read_tiled(file, &info, sample, buffer, bps) : read_stripped(file, &info, sample, buffer, bps);
}

int ctiff_write_page(ctiff_file *file, uint32_t width, uint32_t height,
                     uint16_t bits, uint16_t sample_format, uint16_t compression,
                     const void *data, const char *description) {
    TIFF *t = file->tiff;
    file->error[0] = 0;
    uint32_t rows_per_strip = height < 64 ? height : 64;
    if (!TIFFSetField(t, TIFFTAG_IMAGEWIDTH, width) ||
        !TIFFSetField(t, TIFFTAG_IMAGELENGTH, height) ||
        !TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits) ||
        !TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, sample_format) ||
        !TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1) ||
        !TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) ||
        !TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) ||
        !TIFFSetField(t, TIFFTAG_COMPRESSION, compression) ||
        !TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows_per_strip)) {
        if (!file->error[0]) snprintf(file->error, sizeof file->error, "cannot set TIFF tags");
        return -1;
    }
    if (description && *description) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, description);
    size_t row_bytes = (size_t)width * (bits / 8);
    const uint8_t *src = data;
    for (uint32_t first = 0, strip = 0; first < height; first += rows_per_strip, strip++) {
        uint32_t rows = (first + rows_per_strip > height) ? height - first : rows_per_strip;
        if (TIFFWriteEncodedStrip(t, strip, (void *)(src + first * row_bytes), (tmsize_t)(rows * row_bytes)) < 0) {
            if (!file->error[0]) snprintf(file->error, sizeof file->error, "cannot write strip %u", strip);
            return -1;
        }
    }
    if (!TIFFWriteDirectory(t)) {
        if (!file->error[0]) snprintf(file->error, sizeof file->error, "cannot write the TIFF directory");
        return -1;
    }
    return 0;
}
