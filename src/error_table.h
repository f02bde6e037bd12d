/* The hook through which each layer names its error codes for
 * weft_strerror (defined in src/core/error.c). Not installed. A layer calls
 * it from a constructor, before main, while the program is still
 * single-threaded: the table is not locked. Registering the same lo twice
 * is a no-op; at most 8 tables. */
#ifndef WEFT_ERROR_TABLE_H
#define WEFT_ERROR_TABLE_H

void weft__error_table(int lo, int hi, const char *(*name)(int));

#endif
