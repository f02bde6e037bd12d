// P4 for Go's pgx (v4, Debian's golang-github-jackc-pgx-v4-dev): the same
// sub-workloads as bench/pg_p4.c (asyncpg's pgbench shape), built offline in
// GOPATH mode.
//
//	WEFT_PG_DSN=... pg_pgx_p4 SECONDS [CONNECTIONS [SUB,...]]
//
// CONNECTIONS goroutines each hold a pooled connection: types (rows scanned
// into Go values), bytea, arrays ([]int32, summed), copy (CopyFrom, binary)
// and batch (a pgx.Batch of 1,000 INSERTs, pipelined). The tables are
// bench/pg_p4.c's.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const typesSQL = "SELECT typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred," +
	" typisdefined, typdelim, typrelid, typelem, typarray FROM pg_type" +
	" WHERE typtypmod = $1 AND typisdefined = $2"

const setupSQL = "DROP TABLE IF EXISTS weft_p4_bytes, weft_p4_arrays, weft_p4_copy;" +
	" CREATE UNLOGGED TABLE weft_p4_bytes (b bytea);" +
	" INSERT INTO weft_p4_bytes SELECT convert_to(repeat('a', 1024), 'UTF8')" +
	"   FROM generate_series(1, 100);" +
	" CREATE UNLOGGED TABLE weft_p4_arrays (a int4[]);" +
	" INSERT INTO weft_p4_arrays SELECT (SELECT array_agg(i) FROM generate_series(1, 100) i)" +
	"   FROM generate_series(1, 100);" +
	" CREATE UNLOGGED TABLE weft_p4_copy (a int4, b int4, c int4, d text, e float8, f int4," +
	"   g text)"

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func one(ctx context.Context, c *pgxpool.Conn, sub string, recs [][]interface{}) int64 {
	switch sub {
	case "types":
		rs, err := c.Query(ctx, typesSQL, int32(-1), true)
		must(err)
		var n int64
		for rs.Next() {
			var name string
			var ns, owner, relid, elem, arr uint32
			var typlen int16
			var byval, pref, defined bool
			var cat, delim pgxChar
			must(rs.Scan(&name, &ns, &owner, &typlen, &byval, &cat, &pref, &defined, &delim, &relid, &elem, &arr))
			n++
		}
		must(rs.Err())
		return n
	case "bytea":
		rs, err := c.Query(ctx, "SELECT * FROM weft_p4_bytes")
		must(err)
		var n int64
		for rs.Next() {
			var b []byte
			must(rs.Scan(&b))
			if len(b) != 1024 {
				panic("bad bytea")
			}
			n++
		}
		must(rs.Err())
		return n
	case "arrays":
		rs, err := c.Query(ctx, "SELECT * FROM weft_p4_arrays")
		must(err)
		var n, sum int64
		for rs.Next() {
			var a []int32
			must(rs.Scan(&a))
			for _, v := range a {
				sum += int64(v)
			}
			n++
		}
		must(rs.Err())
		if sum != 5050*n {
			panic("bad sum")
		}
		return n
	case "copy":
		n, err := c.CopyFrom(ctx, pgx.Identifier{"weft_p4_copy"},
			[]string{"a", "b", "c", "d", "e", "f", "g"}, pgx.CopyFromRows(recs))
		must(err)
		return n
	default:
		b := &pgx.Batch{}
		for _, r := range recs {
			b.Queue("INSERT INTO weft_p4_copy VALUES ($1, $2, $3, $4, $5, $6, $7)", r...)
		}
		br := c.SendBatch(ctx, b)
		for range recs {
			_, err := br.Exec()
			must(err)
		}
		must(br.Close())
		return int64(len(recs))
	}
}

// pgxChar scans PostgreSQL's one-byte "char" type.
type pgxChar byte

func (c *pgxChar) Scan(src interface{}) error {
	switch v := src.(type) {
	case string:
		if len(v) > 0 {
			*c = pgxChar(v[0])
		}
	case []byte:
		if len(v) > 0 {
			*c = pgxChar(v[0])
		}
	case int32:
		*c = pgxChar(v)
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pg_pgx_p4 SECONDS [CONNECTIONS [SUB,...]]")
		os.Exit(2)
	}
	secs, _ := strconv.ParseFloat(os.Args[1], 64)
	conns := 10
	if len(os.Args) > 2 {
		conns, _ = strconv.Atoi(os.Args[2])
	}
	subs := "types,bytea,arrays,copy,batch"
	if len(os.Args) > 3 {
		subs = os.Args[3]
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(os.Getenv("WEFT_PG_DSN"))
	must(err)
	cfg.MinConns, cfg.MaxConns = int32(conns), int32(conns)
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	must(err)
	defer pool.Close()
	_, err = pool.Exec(ctx, setupSQL)
	must(err)
	recs := make([][]interface{}, 1000)
	for i := range recs {
		recs[i] = []interface{}{int32(10), int32(11), int32(12), "TESTTESTTEST", 10.333, int32(12341234), "123412341234"}
	}
	var ops, rows int64
	run := func(sub string, d time.Duration) {
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := pool.Acquire(ctx)
				must(err)
				for time.Now().Before(end) {
					atomic.AddInt64(&rows, one(ctx, c, sub, recs))
					atomic.AddInt64(&ops, 1)
				}
				c.Release()
			}()
		}
		wg.Wait()
	}
	cpu := func() float64 {
		var u syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &u)
		return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
	}
	for _, sub := range []string{"types", "bytea", "arrays", "copy", "batch"} {
		if !strings.Contains(","+subs+",", ","+sub+",") {
			continue
		}
		run(sub, 500*time.Millisecond)
		atomic.StoreInt64(&ops, 0)
		atomic.StoreInt64(&rows, 0)
		t0, cpu0 := time.Now(), cpu()
		run(sub, time.Duration(secs*float64(time.Second)))
		el, used := time.Since(t0).Seconds(), cpu()-cpu0
		fmt.Printf("P4 pgx sub=%s rows_per_s=%.0f ops_per_s=%.0f client_cpu_us_per_row=%.3f conns=%d seconds=%.1f\n",
			sub, float64(rows)/el, float64(ops)/el, used*1e6/float64(rows), conns, el)
	}
}
