/* What the sparse formats (CSR8, CSR16, BLOCK1X4, NM24; es_sparse_t in edgesparse.h) share:
 * the table header and counts check and the binding. Internal to the runtime. */
#ifndef ES_FORMAT_SPARSE_H
#define ES_FORMAT_SPARSE_H

#include "es_registry.h"

/* The es_sparse_t header at offset (bytes long) for a rows x cols matrix, inside the blob. */
es_status_t es_sparse_header(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                             uint32_t cols, const es_sparse_t **s);

/* Its counts, index (entry_count elements of index_bytes) and values (value_bytes, aligned
 * to value_align) tables inside the blob and the counts summing to entry_count; *counts
 * receives the counts for the format's own index check. */
es_status_t es_sparse_tables(const es_check_t *c, const es_sparse_t *s, uint32_t index_bytes,
                             uint64_t value_bytes, uint32_t value_align, const uint16_t **counts);

/* The CSR16 table check (header, tables, columns < cols increasing per row), which the sparse
 * depthwise kernel's layer check uses too. */
es_status_t es_csr16_table_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                 uint32_t cols);

/* Every column a CSR8 row's deltas d reach lies inside [0, cols) and strictly increases, so a
 * row never holds more than cols products (the bias check relies on it): ES_ERR_INDEX if not. */
es_status_t es_csr8_deltas_check(const uint16_t *counts, const uint8_t *d, uint32_t rows, uint32_t cols);

void es_sparse_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena);

#endif /* ES_FORMAT_SPARSE_H */
