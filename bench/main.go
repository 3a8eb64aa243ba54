// Command bench runs the same load against an echo server built on dorrit
// and on each other Go WebSocket library, one after another on this
// machine, and reports each figure with its ratio to dorrit.
//
//	go run ./bench -quick    # a reduced set, under a minute
//	go run ./bench           # the full run BENCHMARKS.md reports
//
// A full run writes bench/results.json and bench/results.svg (the chart the
// README shows); a quick or partial run writes results-partial.* beside
// them, so that it never replaces the figures of a full run. A server that
// fails a workload is marked failed in that cell and the run goes on; the
// command exits non-zero only when dorrit fails.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type config struct {
	Rounds        int           `json:"rounds"`
	Duration      time.Duration `json:"duration_ns"`
	Conns         int           `json:"conns"`
	Rate          int           `json:"latency_rate"`
	SerialConns   int           `json:"serial_conns"` // the 1-in-flight latency workload's
	Idle          int           `json:"idle_conns"`
	FanoutConns   int           `json:"fanout_conns"`
	FanoutRepeats int           `json:"fanout_repeats"`
	Servers       []string      `json:"servers"`
	Workloads     []string      `json:"workloads"`
	CellLimit     time.Duration `json:"cell_limit_ns"` // after which a server that does not answer is killed
}

func main() {
	serve := flag.String("serve", "", "internal: run this server in this process")
	sock := flag.String("socket", "", "internal: the server's socket")
	quick := flag.Bool("quick", false, "a reduced set that runs in under a minute")
	rounds := flag.Int("rounds", 3, "rounds; each server runs each workload once per round and the median is reported")
	idleN := flag.Int("idle", 10000, "idle connections for the memory workload")
	only := flag.String("servers", "", "comma-separated subset of servers (default all)")
	onlyW := flag.String("workloads", "", "comma-separated subset of workloads, each named by a part of its name, e.g. \"4 KiB,latency\" (default all)")
	jsonPath := flag.String("json", "", "write the results here (default bench/results.json, or results-partial.json for a quick or partial run)")
	svgPath := flag.String("svg", "", "write the chart here (default bench/results.svg, or results-partial.svg)")
	from := flag.String("from", "", "run nothing: print the table and draw the chart of this results JSON")
	flag.Parse()
	raiseFileLimit()
	if *serve != "" {
		runChild(*serve, *sock)
		return
	}

	cfg := config{Rounds: *rounds, Duration: 3 * time.Second, Conns: 64, Rate: 20000, SerialConns: 16,
		Idle: *idleN, FanoutConns: 1000, FanoutRepeats: 20, Servers: serverOrder}
	if *quick {
		cfg.Rounds, cfg.Duration, cfg.Idle, cfg.FanoutRepeats = 1, 500*time.Millisecond, min(*idleN, 1000), 5
	}
	// Every workload ends within a few durations and a few seconds of
	// dialling; a cell that takes this long has a server that hangs.
	cfg.CellLimit = 30*time.Second + 10*cfg.Duration
	for _, w := range workloads {
		if *onlyW == "" || slices.ContainsFunc(splitComma(*onlyW), func(part string) bool { return strings.Contains(w.name, part) }) {
			cfg.Workloads = append(cfg.Workloads, w.name)
		}
	}
	if len(cfg.Workloads) == 0 {
		fmt.Fprintf(os.Stderr, "bench: no workload matches %q; known: %v\n", *onlyW, workloadNames())
		os.Exit(2)
	}
	if *only != "" {
		cfg.Servers = nil
		for _, s := range splitComma(*only) {
			if _, ok := servers[s]; !ok {
				fmt.Fprintf(os.Stderr, "bench: unknown server %q; known: %v\n", s, serverNames())
				os.Exit(2)
			}
			cfg.Servers = append(cfg.Servers, s)
		}
	}
	partial := *from == "" && (*quick || *only != "" || *onlyW != "")
	if *jsonPath == "" {
		*jsonPath = outputPath("json", partial)
	}
	if *svgPath == "" {
		*svgPath = outputPath("svg", partial)
	}
	var res *results
	var err error
	if *from != "" {
		res, err = readJSON(*from)
	} else {
		res, err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, res)
	if *from == "" {
		if err := writeJSON(*jsonPath, res); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "wrote", *jsonPath)
	}
	if err := writeSVG(*svgPath, res); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "wrote", *svgPath)
	// A peer that fails is a finding about the peer, recorded in its
	// cells; dorrit failing is a finding about this repository, and the
	// exit status is what a script or CI sees.
	if *from == "" && res.failedAny("dorrit") {
		fmt.Fprintln(os.Stderr, "bench: dorrit failed a workload (see the table)")
		os.Exit(1)
	}
}

// outputPath names the default output file: in bench/ whether the command
// runs from the repository root (go run ./bench) or from bench itself.
func outputPath(ext string, partial bool) string {
	name := "results." + ext
	if partial {
		name = "results-partial." + ext
	}
	if _, err := os.Stat("bench/go.mod"); err == nil {
		return filepath.Join("bench", name)
	}
	return name
}

// run measures every workload on every server, round after round, with the
// servers interleaved so that the machine's drift spreads over all of them.
// A server that fails a workload has the failure recorded in that cell and
// is not run on that workload again; the run goes on. The error is only for
// a run that cannot start at all.
func run(cfg config) (*results, error) {
	dir, err := os.MkdirTemp("", "dorrit-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := newResults(cfg)
	for round := 1; round <= cfg.Rounds; round++ {
		for _, w := range workloads {
			if !slices.Contains(cfg.Workloads, w.name) {
				continue
			}
			for _, name := range cfg.Servers {
				if !w.runsOn(name) {
					continue
				}
				if res.failed(w, name) {
					fmt.Fprintf(os.Stderr, "round %d/%d  %-8s %s: skipped, failed before\n", round, cfg.Rounds, name, w.name)
					continue
				}
				fmt.Fprintf(os.Stderr, "round %d/%d  %-8s %s\n", round, cfg.Rounds, name, w.name)
				vals, err := measure(cfg, w, name, dir)
				if err != nil {
					fmt.Fprintf(os.Stderr, "  failed: %v\n", err)
					res.fail(w, name, fmt.Sprintf("round %d: %v", round, err))
					continue
				}
				res.add(w, name, vals)
			}
		}
	}
	return res, nil
}

// A workload yields one or more figures (latency gives three).
type workload struct {
	name    string
	metrics []metric
	noRaw   bool     // meaningless for an unframed echo
	only    []string // if set, the servers that have what it measures
	run     func(cfg config, srv *child, raw bool) ([]float64, error)
}

func (w workload) runsOn(server string) bool {
	if server == "raw" && w.noRaw {
		return false
	}
	return w.only == nil || slices.Contains(w.only, server)
}

type metric struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Higher bool   `json:"higher_is_better"`
}

var workloads = []workload{
	tput("128 B", 128), tput("4 KiB", 4<<10), tput("60 KiB", 60<<10),
	{
		name: "latency",
		metrics: []metric{
			{"latency p50, 20k msg/s", "µs", false},
			{"latency p99, 20k msg/s", "µs", false},
			{"latency p999, 20k msg/s", "µs", false},
		},
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			p, err := latency(srv.sock, raw, cfg.Conns, cfg.Rate, cfg.Duration)
			return micros(p), err
		},
	},
	{
		name: "latency, 1 in flight",
		metrics: []metric{
			{"latency p50, 1 in flight × 16 conns", "µs", false},
			{"latency p99, 1 in flight × 16 conns", "µs", false},
			{"latency p999, 1 in flight × 16 conns", "µs", false},
		},
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			p, err := pingPong(srv.sock, raw, cfg.SerialConns, cfg.Duration)
			return micros(p), err
		},
	},
	{
		name:    "idle memory",
		metrics: []metric{{"idle memory per connection", "KiB", false}},
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			kib, err := idle(srv.sock, raw, cfg.Idle, srv)
			return []float64{kib}, err
		},
	},
	{
		name:    "fan-out",
		metrics: []metric{{"fan-out to 1,000 conns, a write each, median", "ms", false}},
		noRaw:   true,
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			d, err := fanout(srv.sock, broadcastPrefix, cfg.FanoutConns, cfg.FanoutRepeats)
			return []float64{float64(d) / float64(time.Millisecond)}, err
		},
	},
	{
		name:    "fan-out prepared",
		metrics: []metric{{"fan-out to 1,000 conns, prepared message, median", "ms", false}},
		noRaw:   true,
		only:    preparedServers,
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			d, err := fanout(srv.sock, preparedPrefix, cfg.FanoutConns, cfg.FanoutRepeats)
			return []float64{float64(d) / float64(time.Millisecond)}, err
		},
	},
}

func micros(p [3]time.Duration) []float64 {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return []float64{us(p[0]), us(p[1]), us(p[2])}
}

func tput(label string, size int) workload {
	return workload{
		name:    "throughput " + label,
		metrics: []metric{{"throughput " + label + ", 64 conns pipelined", "msg/s", true}},
		run: func(cfg config, srv *child, raw bool) ([]float64, error) {
			v, err := throughput(srv.sock, raw, cfg.Conns, size, cfg.Duration)
			return []float64{v}, err
		},
	}
}

func splitComma(s string) []string { return strings.Split(s, ",") }

func workloadNames() []string {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	return names
}
