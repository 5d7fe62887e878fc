/* libFuzzer target "model": an arbitrary byte string handed to the runtime as a model blob.
 * es_model_init must either reject it with a known status or accept it, and an accepted
 * blob must run through es_model_invoke without any out-of-bounds access (ASan) or
 * undefined behaviour (UBSan).
 *
 * The blob and the arena are heap copies of exactly the declared size (malloc aligns to 8
 * or more, as the runtime requires), so ASan reports a read past the blob or a write past
 * the arena. The CRC-32 is re-sealed over the mutated bytes when the header asks for one,
 * so mutations reach the table checks instead of all failing the checksum
 * (tests/runtime/test_validation.py covers ES_ERR_CRC itself). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgesparse.h"

#define FUZZ_BLOB_MAX_BYTES (64u * 1024u)
#define FUZZ_ARENA_MAX_BYTES (32u * 1024u)

static uint32_t crc32_ieee(const uint8_t *data, uint32_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    uint32_t i;
    int bit;
    for (i = 0; i < len; ++i) {
        crc ^= data[i];
        for (bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* The reader of a streamed input: the same byte pattern as an arena input gets. */
static uint32_t fuzz_row_bytes;

static void fuzz_read_rows(void *ctx, uint32_t input, uint32_t first_row, uint32_t rows, int8_t *dst)
{
    uint32_t i;
    (void)ctx;
    (void)input;
    for (i = 0; i < rows * fuzz_row_bytes; ++i) {
        dst[i] = (int8_t)(uint8_t)((first_row * fuzz_row_bytes + i) * 37u + 128u);
    }
}

/* ES_FUZZ_EXPECT_OK=1 in the environment: abort on any input init rejects (the test that
 * replays the seed corpus uses it to check every seed is a valid table). */
static int expect_ok(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *v = getenv("ES_FUZZ_EXPECT_OK");
        cached = v != NULL && v[0] == '1';
    }
    return cached;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    es_model_header_t h;
    es_model_t model;
    es_status_t st;
    uint8_t *blob;
    void *arena;
    uint32_t arena_bytes = FUZZ_ARENA_MAX_BYTES, n = 0, i;
    int8_t *in;

    if (size > FUZZ_BLOB_MAX_BYTES) {
        return 0;
    }
    blob = (uint8_t *)malloc(size ? size : 1u);
    if (blob == NULL) {
        return 0;
    }
    memcpy(blob, data, size);
    if (size >= sizeof(h)) {
        memcpy(&h, blob, sizeof(h));
        if ((h.flags & ES_FLAG_CRC32) != 0 && h.header_bytes == sizeof(h) &&
            h.blob_bytes >= sizeof(h) && h.blob_bytes <= size) {
            h.crc32 = crc32_ieee(blob + sizeof(h), h.blob_bytes - (uint32_t)sizeof(h));
            memcpy(blob, &h, sizeof(h));
        }
        if (h.arena_bytes <= FUZZ_ARENA_MAX_BYTES) {
            arena_bytes = h.arena_bytes;
        }
    }
    arena = calloc(1, arena_bytes ? arena_bytes : 1u);
    if (arena == NULL) {
        free(blob);
        return 0;
    }
    st = es_model_init(&model, blob, (uint32_t)size, arena, arena_bytes);
    if (strcmp(es_status_name(st), "ES_ERR_UNKNOWN") == 0 || (st != ES_OK && expect_ok())) {
        abort();
    }
    if (st == ES_OK) {
        in = es_model_input(&model, 0, &n);
        if (in == NULL) {
            /* a streamed input: rows through the reader, never an arena pointer */
            const es_tensor_t *t = es_model_input_tensor(&model, 0);
            if (t == NULL || t->flags != ES_TENSOR_STREAMED ||
                es_model_set_input_reader(&model, fuzz_read_rows, NULL) != ES_OK) {
                abort();
            }
            fuzz_row_bytes = (uint32_t)t->dims[2] * t->dims[3];
        }
        for (i = 0; in != NULL && i < n; ++i) {
            in[i] = (int8_t)(uint8_t)(i * 37u + 128u);
        }
        if (es_model_invoke(&model) != ES_OK || es_model_output(&model, 0, &n) == NULL) {
            abort();
        }
    }
    free(arena);
    free(blob);
    return 0;
}
