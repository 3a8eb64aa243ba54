package testproc

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/procgroup"
)

// Options say how Start stops a process at the test's end.
type Options struct {
	// Name names the process in the test's log; default the binary's name.
	Name string
	// Stop, when set, is sent to the process first at the test's end, and
	// the group is killed only if it has not exited within Grace (default
	// 5 s): for a front server that should shut down its workers. Unset,
	// the group is killed at once.
	Stop  os.Signal
	Grace time.Duration
	// Wait bounds WaitLine and WaitCount; default 20 s.
	Wait time.Duration
}

// A Proc is a started process, the leader of its own process group.
type Proc struct {
	*procgroup.Group
	name string
	wait time.Duration

	mu      sync.Mutex
	lines   []string
	more    chan struct{} // a line came
	eof     chan struct{} // the output has ended
	outRead *os.File
}

// Start starts cmd in a process group of its own, tied to the test: the
// group is killed at the test's cleanup (after o.Stop, if set) and when
// the test process dies. What cmd writes to its standard error, and to its
// standard output when cmd.Stdout is nil, is collected line by line
// (cmd.Stderr must be nil); the test's log shows it when the test failed.
func Start(t testing.TB, cmd *exec.Cmd, o Options) *Proc {
	t.Helper()
	if o.Name == "" {
		o.Name = filepath.Base(cmd.Path)
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 20 * time.Second
	}
	if cmd.Stderr != nil {
		t.Fatalf("testproc.Start(%s): cmd.Stderr is set; Start collects it", o.Name)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if cmd.Stdout == nil {
		cmd.Stdout = w
	}
	g, err := procgroup.Start(cmd)
	w.Close() // the child has its copy
	if err != nil {
		r.Close()
		t.Fatalf("starting %s: %v", o.Name, err)
	}
	p := &Proc{Group: g, name: o.Name, wait: o.Wait, more: make(chan struct{}, 1), eof: make(chan struct{}), outRead: r}
	go p.collect()
	t.Cleanup(func() {
		if o.Stop != nil {
			p.Signal(o.Stop)
			select {
			case <-p.Done():
			case <-time.After(o.Grace):
			}
		}
		p.Kill()
		// A process of the group that escaped it (a daemon's setsid) may
		// hold the output open: stop reading.
		r.Close()
		if t.Failed() {
			t.Logf("%s said:\n%s", p.name, p.Output())
		}
	})
	return p
}

func (p *Proc) collect() {
	defer close(p.eof)
	sc := bufio.NewScanner(p.outRead)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		select {
		case p.more <- struct{}{}:
		default:
		}
	}
}

// Output is what the process has written so far, one line a line.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Lines are the lines the process has written so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// WaitOutput waits until the process has exited and its output has ended:
// a second at most after the exit, when another process of its group (or
// one that left it) still holds the output open.
func (p *Proc) WaitOutput() {
	<-p.Done()
	select {
	case <-p.eof:
	case <-time.After(time.Second):
	}
}

// WaitLine waits for a line matching re and returns its submatches. It
// fails the test when the process exits without one, or after
// Options.Wait.
func (p *Proc) WaitLine(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(p.wait)
	for {
		if m := p.find(re); m != nil {
			return m
		}
		select {
		case <-p.more:
		case <-p.Done():
			p.WaitOutput()
			if m := p.find(re); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) without a line matching %q; it said:\n%s", p.name, p.Cmd.ProcessState, re, p.Output())
		case <-deadline:
			t.Fatalf("%s wrote no line matching %q within %v; it said:\n%s", p.name, re, p.wait, p.Output())
		}
	}
}

func (p *Proc) find(re *regexp.Regexp) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

// WaitCount waits until n lines match re; as WaitLine, it fails the test
// when the process exits first, or after Options.Wait.
func (p *Proc) WaitCount(t testing.TB, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.After(p.wait)
	count := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		k := 0
		for _, l := range p.lines {
			if re.MatchString(l) {
				k++
			}
		}
		return k
	}
	for {
		if count() >= n {
			return
		}
		select {
		case <-p.more:
		case <-p.Done():
			p.WaitOutput()
			if k := count(); k < n {
				t.Fatalf("%s exited (%v) after %d of %d lines matching %q; it said:\n%s", p.name, p.Cmd.ProcessState, k, n, re, p.Output())
			}
			return
		case <-deadline:
			t.Fatalf("%s wrote %d of %d lines matching %q within %v; it said:\n%s", p.name, count(), n, re, p.wait, p.Output())
		}
	}
}

// Stop sends sig to the process and waits up to d for it to exit; it
// returns the exit code (-1 when a signal ended it) and fails the test
// when it did not exit in time.
func (p *Proc) Stop(t testing.TB, sig os.Signal, d time.Duration) int {
	t.Helper()
	p.Signal(sig)
	select {
	case <-p.Done():
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v of %v; it said:\n%s", p.name, d, sig, p.Output())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Tie ties to the test a process group it did not start itself: a
// daemon's, which left the group of the command that started it (read its
// ID from the daemon's pidfile: the supervisor leads the group of its
// server processes). The group is killed (SIGKILL) at the test's cleanup,
// and when the test process dies. Call Tie before registering a graceful
// stop, so that the stop runs first and the kill takes what is left.
func Tie(t testing.TB, pgid int) {
	t.Helper()
	w, err := procgroup.Watch(pgid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Stop()
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
}
