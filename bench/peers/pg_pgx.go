// P1-P3 for Go's pgx (v4, Debian's golang-github-jackc-pgx-v4-dev): the same
// workloads as bench/pg_bench.c, built offline in GOPATH mode.
//
//	WEFT_PG_DSN=... pg_pgx P1|P2|P3 SECONDS [CONNECTIONS [hold|acquire]]
//
// CONNECTIONS goroutines over a pgxpool of CONNECTIONS; "hold" keeps one
// connection per goroutine, "acquire" takes one per iteration. P3 sends a
// pgx.Batch (pipelined). Go uses every core (GOMAXPROCS default).
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: pg_pgx P1|P2|P3 SECONDS [CONNECTIONS [hold|acquire]]")
		os.Exit(2)
	}
	workload := os.Args[1]
	secs, _ := strconv.ParseFloat(os.Args[2], 64)
	conns := 10
	if len(os.Args) > 3 {
		conns, _ = strconv.Atoi(os.Args[3])
	}
	perQuery := len(os.Args) > 4 && os.Args[4] == "acquire"
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(os.Getenv("WEFT_PG_DSN"))
	if err != nil {
		panic(err)
	}
	cfg.MinConns, cfg.MaxConns = int32(conns), int32(conns)
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if workload == "P3" {
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS weft_bench_p3"); err != nil {
			panic(err)
		}
		if _, err := pool.Exec(ctx, "CREATE UNLOGGED TABLE weft_bench_p3(a int, b text)"); err != nil {
			panic(err)
		}
	}
	var queries, rows int64
	one := func(c *pgxpool.Conn) {
		switch workload {
		case "P1":
			var v int32
			if err := c.QueryRow(ctx, "SELECT 1+1").Scan(&v); err != nil || v != 2 {
				panic(err)
			}
			atomic.AddInt64(&rows, 1)
		case "P2":
			rs, err := c.Query(ctx, "SELECT * FROM generate_series(1,1000)")
			if err != nil {
				panic(err)
			}
			var sum, n int64
			for rs.Next() {
				var v int32
				if err := rs.Scan(&v); err != nil {
					panic(err)
				}
				sum += int64(v)
				n++
			}
			rs.Close()
			if sum != 500500 {
				panic("bad sum")
			}
			atomic.AddInt64(&rows, n)
		default:
			b := &pgx.Batch{}
			for i := 0; i < 1000; i++ {
				b.Queue("INSERT INTO weft_bench_p3 VALUES ($1, $2)", i, "a row of the batch")
			}
			br := c.SendBatch(ctx, b)
			for i := 0; i < 1000; i++ {
				if _, err := br.Exec(); err != nil {
					panic(err)
				}
			}
			br.Close()
			atomic.AddInt64(&rows, 1000)
		}
		atomic.AddInt64(&queries, 1)
	}
	run := func(d time.Duration) {
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var held *pgxpool.Conn
				for time.Now().Before(end) {
					c := held
					if c == nil {
						var err error
						if c, err = pool.Acquire(ctx); err != nil {
							panic(err)
						}
					}
					one(c)
					if perQuery {
						c.Release()
					} else {
						held = c
					}
				}
				if held != nil {
					held.Release()
				}
			}()
		}
		wg.Wait()
	}
	run(500 * time.Millisecond)
	atomic.StoreInt64(&queries, 0)
	atomic.StoreInt64(&rows, 0)
	cpu := func() float64 {
		var u syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &u)
		return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
	}
	t0, cpu0 := time.Now(), cpu()
	run(time.Duration(secs * float64(time.Second)))
	el, used := time.Since(t0).Seconds(), cpu()-cpu0
	name := "pgx"
	if perQuery {
		name = "pgx-acquire"
	}
	fmt.Printf("%s %s queries_per_s=%.0f rows_per_s=%.0f client_cpu_us_per_query=%.1f conns=%d seconds=%.1f\n",
		workload, name, float64(queries)/el, float64(rows)/el, used*1e6/float64(queries), conns, el)
}
