/* Types by name and user codecs (asyncpg's set_type_codec). A user type's
 * OID differs between databases, so it is looked up per connection (once:
 * cached with the connection) and the codec is kept with it. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pg__types_free(weft_pg *c)
{
    for (pg_type_entry *t = c->types, *n; t; t = n) {
        n = t->next;
        free(t->name);
        free(t);
    }
    c->types = NULL;
}

static pg_type_entry *by_name(weft_pg *c, const char *name)
{
    for (pg_type_entry *t = c->types; t; t = t->next)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

static pg_type_entry *lookup(weft_pg *c, const char *name, int *rc)
{
    pg_type_entry *t = by_name(c, name);
    if (t) return t;
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_result *r = NULL;
    *rc = p ? weft_pg_params_text(p, name) : -ENOMEM;
    /* regtype parses the name as the server would in a cast: schemas,
     * quoting, search_path, "int4[]" */
    if (*rc >= 0)
        *rc = weft_pg_query(c, "SELECT t.oid, t.typarray FROM pg_type t WHERE t.oid = $1::regtype",
                            p, &r);
    weft_pg_params_free(p);
    int64_t oid = 0, arr = 0;
    if (*rc == 1 && weft_pg_get_bigint(r, 0, 0, &oid) == 0 && weft_pg_get_bigint(r, 0, 1, &arr) == 0) {
        t = calloc(1, sizeof *t);
        if (t && !(t->name = strdup(name))) {
            free(t);
            t = NULL;
        }
        if (t) {
            t->oid = (unsigned)oid;
            t->array_oid = (unsigned)arr;
            t->next = c->types;
            c->types = t;
        } else {
            *rc = -ENOMEM;
        }
    } else if (*rc >= 0) {
        *rc = -WEFT_PG_ETYPE;
    }
    weft_pg_result_free(r);
    return t;
}

int weft_pg_type_oid(weft_pg *c, const char *name, unsigned *oid, unsigned *array_oid)
{
    if (!c || !name) return -EINVAL;
    int rc = 0;
    pg_type_entry *t = lookup(c, name, &rc);
    if (!t) return rc;
    if (oid) *oid = t->oid;
    if (array_oid) *array_oid = t->array_oid;
    return 0;
}

int weft_pg_set_type_codec(weft_pg *c, const char *name, const weft_pg_codec *codec)
{
    if (!c || !name || !codec) return -EINVAL;
    int rc = 0;
    pg_type_entry *t = lookup(c, name, &rc);
    if (!t) return rc;
    t->codec = *codec;
    t->has_codec = 1;
    return 0;
}

int weft_pg_params_custom(weft_pg *c, weft_pg_params *p, const char *name, const void *value)
{
    if (!c || !p || !name) return -EINVAL;
    pg_type_entry *t = by_name(c, name);
    if (!t || !t->has_codec || !t->codec.encode) return -ENOENT;
    int before = p->n;
    int rc = t->codec.encode(p, t->oid, value, t->codec.arg);
    if (rc >= 0 && p->n != before + 1) return p->err = -EINVAL; /* one value, exactly */
    return rc;
}

int weft_pg_value_custom(weft_pg *c, const weft_pg_value *v, void *out)
{
    if (!c || !v) return -EINVAL;
    if (v->len < 0 || !v->data) return -WEFT_PG_ENULL;
    for (pg_type_entry *t = c->types; t; t = t->next)
        if (t->has_codec && t->oid == v->oid && t->codec.decode)
            return t->codec.decode(v, out, t->codec.arg);
    return -ENOENT;
}

int weft_pg_get_custom(weft_pg *c, const weft_pg_result *r, int row, int col, void *out)
{
    weft_pg_value v;
    int rc = weft_pg_get_value(r, row, col, &v);
    return rc < 0 ? rc : weft_pg_value_custom(c, &v, out);
}
