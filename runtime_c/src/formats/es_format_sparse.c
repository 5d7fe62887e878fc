/* The table check and binding the sparse formats share (es_format_sparse.h). */
#include "es_format_sparse.h"

es_status_t es_sparse_header(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                             uint32_t cols, const es_sparse_t **s)
{
    if (bytes < sizeof(es_sparse_t) || !es_table_ok(c, offset, 1, sizeof(es_sparse_t), 4) ||
        (uint64_t)offset + bytes > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    *s = (const es_sparse_t *)(const void *)(c->blob + offset);
    return ((*s)->rows != rows || (*s)->cols != cols) ? ES_ERR_SHAPE : ES_OK;
}

es_status_t es_sparse_tables(const es_check_t *c, const es_sparse_t *s, uint32_t index_bytes,
                             uint64_t value_bytes, uint32_t value_align, const uint16_t **counts)
{
    uint64_t total = 0;
    uint32_t r;
    if (!es_table_ok(c, s->counts_offset, s->rows, 2, 2) ||
        !es_table_ok(c, s->index_offset, s->entry_count, index_bytes, index_bytes) ||
        !es_table_ok(c, s->values_offset, value_bytes, 1, value_align)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    *counts = (const uint16_t *)(const void *)(c->blob + s->counts_offset);
    for (r = 0; r < s->rows; ++r) {
        total += (*counts)[r];
    }
    return total == s->entry_count ? ES_OK : ES_ERR_INDEX;
}

void es_sparse_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    const es_sparse_t *s = (const es_sparse_t *)(const void *)(blob + offset);
    (void)arena;
    m->weights = (const int8_t *)0;
    m->counts = (const uint16_t *)(const void *)(blob + s->counts_offset);
    m->index = blob + s->index_offset;
    m->values = (const int8_t *)(blob + s->values_offset);
    m->bits = 0;
    m->huff.lut = (const uint16_t *)0;
}
