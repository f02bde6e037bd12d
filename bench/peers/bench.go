// Go peer for M1-M4 (bench/run.sh builds it with `go build`, std only).
// Usage: bench_go m1 YIELDS | m2 TASKS | m3 TASKS SECONDS | m4 TASKS LIMIT MS
//        | mc1 TASKS | mc2 ROUND_TRIPS (several loops, issue 12: bench/run_mc.sh
//        runs them with GOMAXPROCS=2, as weft runs 2 loops)
// M1 runs with GOMAXPROCS=1 (Gosched between two goroutines on one thread);
// M2-M4 use Go's default GOMAXPROCS, as a Go program would; run.sh also runs
// them with GOMAXPROCS=1 under the name go-1p (BENCH_GO_NAME), one thread
// like weft, for comparison.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var name = "go"

func arg(i int) int {
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "bad argument %q\n", os.Args[i])
		os.Exit(2)
	}
	return v
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024.0
}

func m1(n int) {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	fmt.Printf("M1 %s ns_per_switch=%.1f\n", name, dt*1e9/float64(2*n))
}

func m2(n int) {
	results := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			results[i] = i & 0xffff
			wg.Done()
		}(i)
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	fmt.Printf("M2 %s ns_per_task=%.1f peak_rss_mb=%.1f\n", name, dt*1e9/float64(n), peakRSSMB())
}

func m3(n, secs int) {
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Duration(secs) * time.Second)
			wg.Done()
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	fmt.Printf("M3 %s wall_s=%.2f peak_rss_mb=%.1f\n", name, dt, peakRSSMB())
}

func m4(n, limit, ms int) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			sem <- struct{}{}
			time.Sleep(time.Duration(ms) * time.Millisecond)
			<-sem
			wg.Done()
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	ideal := float64(n) / float64(limit) * float64(ms) / 1000.0
	fmt.Printf("M4 %s wall_s=%.3f overhead_pct=%.1f\n", name, dt, (dt-ideal)/ideal*100)
}

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

// MC1: n goroutines, all awaited (a WaitGroup), results kept as weft's are.
func mc1(n int) {
	results := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	t0, c0 := time.Now(), cpuNow()
	for i := 0; i < n; i++ {
		go func(i int) {
			results[i] = i & 0xffff
			wg.Done()
		}(i)
	}
	wg.Wait()
	dt, dc := time.Since(t0).Seconds(), cpuNow()-c0
	fmt.Printf("MC1 go ns_per_task=%.1f cpu_ns_per_task=%.1f peak_rss_mb=%.1f\n",
		dt*1e9/float64(n), dc*1e9/float64(n), peakRSSMB())
}

// MC2: a token through two unbuffered channels, n round trips.
func mc2(n int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			pong <- <-ping
		}
	}()
	t0, c0 := time.Now(), cpuNow()
	tok := 1
	for i := 0; i < n; i++ {
		ping <- tok
		tok = <-pong
	}
	dt, dc := time.Since(t0).Seconds(), cpuNow()-c0
	fmt.Printf("MC2 go ns_per_roundtrip=%.1f cpu_ns_per_roundtrip=%.1f\n",
		dt*1e9/float64(n), dc*1e9/float64(n))
}

func main() {
	if n := os.Getenv("BENCH_GO_NAME"); n != "" {
		name = n
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: bench_go m1 N | m2 N | m3 N S | m4 N LIMIT MS")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "m1":
		m1(arg(2))
	case "m2":
		m2(arg(2))
	case "m3":
		m3(arg(2), arg(3))
	case "m4":
		m4(arg(2), arg(3), arg(4))
	case "mc1":
		mc1(arg(2))
	case "mc2":
		mc2(arg(2))
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
}
