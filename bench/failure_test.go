package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/gobwas/ws"
)

// Servers that fail, each in a way a real one can: they join the servers
// map in the test binary, which is also the binary of their child process
// (see TestMain), and run exactly as the real servers do.
func init() {
	servers["crashes"] = serveCrashes
	servers["garbage"] = serveGarbage
	servers["silent"] = serveSilent
	servers["exits"] = serveExits
}

// serveCrashes is dorrit's echo server whose process dies on the first
// message: it holds idle connections, and fails every workload that sends.
func serveCrashes(ul *net.UnixListener) error {
	ln, err := dorrit.Listen(dorrit.Options{Listener: ul, MaxConns: 1 << 20})
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			if _, err := c.Read(context.Background()); err == nil {
				os.Exit(3)
			}
		}()
	}
}

// serveGarbage answers every message with a binary one: a protocol break
// the load generator must catch.
func serveGarbage(ul *net.UnixListener) error {
	return serveGobwasFrames(ul, func(nc net.Conn, payload []byte) error {
		return ws.WriteFrame(nc, ws.NewBinaryFrame(payload))
	})
}

// serveSilent completes every handshake and reads, but never answers: only
// the watchdog ends the workloads that wait for an answer.
func serveSilent(ul *net.UnixListener) error {
	return serveGobwasFrames(ul, func(net.Conn, []byte) error { return nil })
}

// serveExits exits as soon as it has said it is ready.
func serveExits(*net.UnixListener) error {
	os.Exit(4)
	return nil
}

// serveGobwasFrames upgrades each connection and calls answer with every
// unmasked payload it reads.
func serveGobwasFrames(ul *net.UnixListener, answer func(nc net.Conn, payload []byte) error) error {
	for {
		nc, err := ul.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			r := bufio.NewReader(nc)
			for {
				h, err := ws.ReadHeader(r)
				if err != nil {
					return
				}
				payload := make([]byte, h.Length)
				if _, err := io.ReadFull(r, payload); err != nil {
					return
				}
				ws.Cipher(payload, h.Mask, 0)
				if answer(nc, payload) != nil {
					return
				}
			}
		}()
	}
}

func TestFailingPeersDoNotStopTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes and waits for a watchdog")
	}
	cfg := config{Rounds: 2, Duration: 100 * time.Millisecond, Conns: 4, Rate: 2000, SerialConns: 2,
		Idle: 20, FanoutConns: 20, FanoutRepeats: 2, CellLimit: 2 * time.Second,
		Servers:   []string{"dorrit", "crashes", "garbage", "silent", "exits"},
		Workloads: workloadNames()}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// dorrit ran every workload in both rounds, the failures around it
	// notwithstanding.
	for _, s := range res.Metrics {
		if why, ok := s.Failed["dorrit"]; ok {
			t.Errorf("%s: dorrit failed: %s", s.Name, why)
		}
		if n := len(s.Rounds["dorrit"]); n != 2 {
			t.Errorf("%s: dorrit has %d rounds, want 2", s.Name, n)
		}
	}
	if res.failedAny("dorrit") {
		t.Error("failedAny(dorrit) is true: the run would exit non-zero")
	}

	// Each failure is recorded in its cell, with why.
	byName := map[string]*series{}
	for _, s := range res.Metrics {
		byName[s.Name] = s
	}
	tput := byName["throughput 128 B, 64 conns pipelined"]
	oneInFlight := byName["latency p50, 1 in flight × 16 conns"]
	fan := byName["fan-out to 1,000 conns, a write each, median"]
	idleMem := byName["idle memory per connection"]
	for _, c := range []struct {
		s            *series
		server, want string
	}{
		{tput, "crashes", "exit status 3"},
		{fan, "crashes", "exit status 3"},
		{tput, "garbage", "opcode 0x2"},
		{oneInFlight, "garbage", "opcode 0x2"},
		{tput, "silent", "no echo"},
		{oneInFlight, "silent", "no result after 2s, server killed"},
		{fan, "silent", "no result after 2s, server killed"},
		{idleMem, "exits", "exit status 4"},
	} {
		why, ok := c.s.Failed[c.server]
		if !ok || !strings.Contains(why, c.want) {
			t.Errorf("%s, %s: failure %q, want it to say %q", c.s.Name, c.server, why, c.want)
		}
		if _, ok := c.s.Median[c.server]; ok {
			t.Errorf("%s, %s: a failed cell has a median", c.s.Name, c.server)
		}
	}
	// A server that passes a workload has its figure there even if it
	// failed others, and a failed cell is not run again.
	for _, name := range []string{"crashes", "silent"} {
		if _, ok := idleMem.Median[name]; !ok || len(idleMem.Rounds[name]) != 2 {
			t.Errorf("idle memory, %s: %d rounds, median present %v; want 2 rounds and a median", name, len(idleMem.Rounds[name]), ok)
		}
	}
	if _, ok := tput.Rounds["garbage"]; ok {
		t.Errorf("throughput, garbage: has rounds %v after failing in round 1", tput.Rounds["garbage"])
	}

	// The table, the JSON and the chart all show it.
	var table bytes.Buffer
	printTable(&table, res)
	if !strings.Contains(table.String(), "failed  round 1: ") {
		t.Errorf("the table shows no failure:\n%s", table.String())
	}
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	if err := writeJSON(jsonPath, res); err != nil {
		t.Fatal(err)
	}
	back, err := readJSON(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if !back.failedAny("garbage") || back.failedAny("dorrit") {
		t.Error("results.json lost which servers failed")
	}
	if err := writeSVG(svgPath, res); err != nil {
		t.Fatal(err)
	}
	if svg, _ := os.ReadFile(svgPath); !bytes.Contains(svg, []byte(">failed<")) {
		t.Error("the chart shows no failure")
	}
}
