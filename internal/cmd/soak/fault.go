package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
)

// Faults the server child can be told to have (-fault), so that the
// soak's own tests watch it fail for each thing it claims to catch.
const (
	faultDrop  = "drop"  // every 50th message is not echoed
	faultClose = "close" // the connection that sends the 50th message is closed by the server
	faultLeak  = "leak"  // every connection leaves a goroutine behind
	faultOpen  = "open"  // every connection leaves a descriptor open
	faultHold  = "hold"  // every message leaves 32 KiB of heap behind
)

// faultEvery is how many messages the drop and close faults let pass.
const faultEvery = 50

// serve runs the README's echo loop on ln, or a faulty one.
func serve(ln *dorrit.Listener, fault string) error {
	switch fault {
	case "":
		go procmem.Echo(ln)
		return nil
	case faultDrop, faultClose, faultLeak, faultOpen, faultHold:
		go faultyEcho(ln, fault)
		return nil
	}
	return fmt.Errorf("-fault %q: want %s, %s, %s, %s or %s", fault, faultDrop, faultClose, faultLeak, faultOpen, faultHold)
}

func faultyEcho(ln *dorrit.Listener, fault string) {
	var count atomic.Int64
	var held struct {
		sync.Mutex
		bufs [][]byte
	}
	never := make(chan struct{})
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		switch fault {
		case faultLeak:
			go func() { <-never }()
		case faultOpen:
			syscall.Open(os.DevNull, syscall.O_RDONLY, 0) // a descriptor nobody closes (an *os.File's finalizer would)
		}
		go func() {
			defer c.Close()
			for {
				msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if fault == faultHold {
					held.Lock()
					held.bufs = append(held.bufs, make([]byte, 32<<10))
					held.Unlock()
				}
				if count.Add(1)%faultEvery == 0 {
					switch fault {
					case faultDrop:
						continue
					case faultClose:
						return
					}
				}
				if c.Write(msg) != nil {
					return
				}
			}
		}()
	}
}
