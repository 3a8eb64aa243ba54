package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// measure runs one workload on a fresh process of one server: one cell of
// the table, one round. A server that fails the workload is an answer, not
// the end of the run: its error comes back to be recorded in the cell.
//
// A server that stops answering must not hang the run either: after
// cfg.CellLimit the watchdog kills the process, which ends every wait of
// the load generator (all of them are on the server's socket or pipe) with
// an error.
func measure(cfg config, w workload, name, dir string) ([]float64, error) {
	srv, err := startChild(name, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	var timedOut atomic.Bool
	watchdog := time.AfterFunc(cfg.CellLimit, func() {
		timedOut.Store(true)
		srv.stop()
	})
	defer watchdog.Stop()
	if err := srv.ready(); err != nil {
		return nil, limitErr(fmt.Errorf("%w%s", err, srv.died()), timedOut.Load(), cfg.CellLimit)
	}
	vals, err := w.run(cfg, srv, name == "raw")
	if err != nil {
		return nil, limitErr(fmt.Errorf("%w%s", err, srv.died()), timedOut.Load(), cfg.CellLimit)
	}
	return vals, nil
}

// limitErr names the watchdog as the cause when it fired: the error the
// load generator saw then is only the consequence of the kill.
func limitErr(err error, timedOut bool, limit time.Duration) error {
	if timedOut {
		return fmt.Errorf("no result after %v, server killed (%v)", limit, err)
	}
	return err
}
