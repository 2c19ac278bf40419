/*
 * idem.c - the records of idempotent requests (API.md 8) in LMDB; see
 * lmdb_int.h. idem: principal NUL key -> expires_us (8), fp (16), the
 * answer as rendered. idem_exp: expires_us (big-endian) then the same
 * name -> nothing, so expired records are found oldest first.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store/store.h"
#include "lmdb_int.h"

#define IDEM_HEAD	24
#define IDEM_PURGE	8	/* expired records dropped per new one */

/* Drops up to IDEM_PURGE records that expired before now. */
static enum store_err
idem_purge(store *st, MDB_txn *txn, int64_t now)
{
	MDB_cursor	*c;
	MDB_val		 k, v, name;
	unsigned char	 t[8];
	int		 rc, i;

	db_be64(t, (uint64_t)now);
	if ((rc = mdb_cursor_open(txn, st->idem_exp, &c)) != 0)
		return db_err(st, __func__, "mdb_cursor_open", rc);
	for (i = 0; i < IDEM_PURGE; i++) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0 ||
		    k.mv_size < 8 || memcmp(k.mv_data, t, 8) >= 0)
			break;
		name.mv_data = (char *)k.mv_data + 8;
		name.mv_size = k.mv_size - 8;
		if ((rc = mdb_del(txn, st->idem, &name, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK :
	    db_err(st, __func__, "purge", rc);
}

enum store_err
idem_lookup(store *st, MDB_txn *txn, struct store_idem *id, int64_t now)
{
	char		 buf[STORE_IDEM_NAME_MAX];
	MDB_val		 k, v;
	int64_t		 exp;
	int		 rc;

	id->outcome = STORE_IDEM_NEW;
	if ((k.mv_size = store_idem_name(id, buf, sizeof(buf))) == 0)
		return STORE_INVALID;
	k.mv_data = buf;
	if ((rc = mdb_get(txn, st->idem, &k, &v)) == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return db_err(st, __func__, "mdb_get", rc);
	if (v.mv_size < IDEM_HEAD)
		return STORE_CORRUPT;
	memcpy(&exp, v.mv_data, 8);
	if (exp <= now)
		return STORE_OK;	/* expired: as if never seen */
	if (memcmp((char *)v.mv_data + 8, id->fp, 16) != 0) {
		id->outcome = STORE_IDEM_MISMATCH;
		return STORE_OK;
	}
	id->resplen = v.mv_size - IDEM_HEAD;
	if ((id->response = malloc(id->resplen + 1)) == NULL)
		return STORE_NOMEM;
	memcpy(id->response, (char *)v.mv_data + IDEM_HEAD, id->resplen);
	id->response[id->resplen] = '\0';
	id->outcome = STORE_IDEM_REPLAYED;
	return STORE_OK;
}

enum store_err
idem_store(store *st, MDB_txn *txn, struct store_idem *id, int64_t now)
{
	char		 buf[STORE_IDEM_NAME_MAX];
	unsigned char	 ebuf[8 + sizeof(buf)];
	char		*out = NULL;
	size_t		 outlen = 0, nlen;
	int64_t		 exp = now + id->ttl_us;
	int		 status = 500, rc;
	MDB_val		 k, v;
	enum store_err	 err = STORE_OK;

	if (id->render(id->render_arg, &out, &outlen, &status) != 0) {
		err = STORE_NOMEM;
		goto out;
	}
	if (status >= 500)
		goto out;
	if ((err = idem_purge(st, txn, now)) != STORE_OK)
		goto out;
	nlen = store_idem_name(id, buf, sizeof(buf));
	k.mv_data = buf;
	k.mv_size = nlen;
	v.mv_size = IDEM_HEAD + outlen;
	if ((rc = mdb_put(txn, st->idem, &k, &v, MDB_RESERVE)) != 0) {
		err = db_err(st, __func__, "mdb_put", rc);
		goto out;
	}
	memcpy(v.mv_data, &exp, 8);
	memcpy((char *)v.mv_data + 8, id->fp, 16);
	memcpy((char *)v.mv_data + IDEM_HEAD, out, outlen);
	db_be64(ebuf, (uint64_t)exp);
	memcpy(ebuf + 8, buf, nlen);
	k.mv_data = ebuf;
	k.mv_size = 8 + nlen;
	v.mv_data = "";
	v.mv_size = 0;
	if ((rc = mdb_put(txn, st->idem_exp, &k, &v, 0)) != 0)
		err = db_err(st, __func__, "mdb_put", rc);
out:
	free(out);
	return err;
}
