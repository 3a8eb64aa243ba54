package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results are every figure of a run: per metric, per server, one value a round.
type results struct {
	Machine machine   `json:"machine"`
	Config  config    `json:"config"`
	Metrics []*series `json:"metrics"`
}

type machine struct {
	CPUs    int    `json:"cpus"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	When    string `json:"when"`
	CPUName string `json:"cpu,omitempty"`
}

type series struct {
	metric
	Rounds map[string][]float64 `json:"rounds"`
	Median map[string]float64   `json:"median"`
	// Failed holds, per server that failed the workload, why: the round
	// and the error. Such a server has no median (a median of the rounds
	// that happened to pass would hide the failure); its Rounds keep the
	// figures of the rounds before.
	Failed map[string]string `json:"failed,omitempty"`
}

func newResults(cfg config) *results {
	r := &results{Config: cfg, Machine: machine{
		CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		When: time.Now().UTC().Format(time.RFC3339), CPUName: cpuName(),
	}}
	for _, w := range workloads {
		if !slices.Contains(cfg.Workloads, w.name) {
			continue
		}
		for _, m := range w.metrics {
			r.Metrics = append(r.Metrics, &series{metric: m, Rounds: map[string][]float64{}, Median: map[string]float64{}})
		}
	}
	return r
}

func (r *results) add(w workload, server string, vals []float64) {
	for i, s := range r.seriesOf(w) {
		s.Rounds[server] = append(s.Rounds[server], vals[i])
		s.Median[server] = median(s.Rounds[server])
	}
}

// fail records that server failed workload w, and why.
func (r *results) fail(w workload, server, reason string) {
	for _, s := range r.seriesOf(w) {
		if s.Failed == nil {
			s.Failed = map[string]string{}
		}
		s.Failed[server] = reason
		delete(s.Median, server)
	}
}

// failed tells whether server has failed workload w in an earlier round.
func (r *results) failed(w workload, server string) bool {
	for _, s := range r.seriesOf(w) {
		if _, ok := s.Failed[server]; ok {
			return true
		}
	}
	return false
}

// failedAny tells whether server failed any workload.
func (r *results) failedAny(server string) bool {
	for _, s := range r.Metrics {
		if _, ok := s.Failed[server]; ok {
			return true
		}
	}
	return false
}

// seriesOf returns the series of w's metrics, in the order of its figures.
func (r *results) seriesOf(w workload) []*series {
	var out []*series
	for _, m := range w.metrics {
		for _, s := range r.Metrics {
			if s.Name == m.Name {
				out = append(out, s)
			}
		}
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable prints each metric with every server's median, its ratio to
// dorrit and, over several rounds, how far the rounds spread around it.
func printTable(w io.Writer, r *results) {
	fmt.Fprintf(w, "%d CPUs, %s, %s, %s; medians of %d round(s); spread = (max-min)/2 of the rounds, in %% of the median\n",
		r.Machine.CPUs, r.Machine.CPUName, r.Machine.Go, r.Machine.OS, r.Config.Rounds)
	for _, s := range r.Metrics {
		better := "lower is better"
		if s.Higher {
			better = "higher is better"
		}
		fmt.Fprintf(w, "\n%s (%s, %s)\n", s.Name, s.Unit, better)
		base := s.Median["dorrit"]
		for _, name := range r.Config.Servers {
			if why, ok := s.Failed[name]; ok {
				fmt.Fprintf(w, "  %-8s %14s  %s\n", name, "failed", why)
				continue
			}
			v, ok := s.Median[name]
			if !ok {
				continue
			}
			ratio := ""
			if base > 0 {
				ratio = fmt.Sprintf("%.2f× dorrit", v/base)
			}
			line := fmt.Sprintf("  %-8s %14s  %-12s %s", name, format(v), ratio, spread(s.Rounds[name]))
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
}

// spread is how far the rounds lie around their median, or "" for one round.
func spread(v []float64) string {
	m := median(v)
	if len(v) < 2 || m == 0 {
		return ""
	}
	return fmt.Sprintf("±%.0f%%", (slices.Max(v)-slices.Min(v))/2/m*100)
}

// format prints a figure with thousands separators, or two decimals when small.
func format(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func writeJSON(path string, r *results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readJSON(path string) (*results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r results
	return &r, json.Unmarshal(b, &r)
}

func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return ""
}
