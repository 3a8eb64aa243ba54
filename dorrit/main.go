//go:build libdorrit && cgo && (linux || freebsd)

package main

/*
#include <stdlib.h>
const char *ws_missing_callback(void);
void ws_call_init(void);
extern char *ws_config_file;
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

// main runs only where the Go toolchain links this package as a program;
// in libdorrit.a, main is the C main in capi.c.
func main() { os.Exit(int(ws_go_main())) }

// stateEnv carries what ws_init_func set in the process the user started
// (the name, the periodic interval) to the daemon and server processes,
// which are this binary executed again: the name must be known before
// lifecycle.Run parses the command line there, and the periodic interval
// before it starts the server.
const stateEnv = "DORRIT_CAPI_STATE"

type state struct {
	Name      string   `json:"name"`
	Periodic  int      `json:"periodic,omitempty"`  // seconds, 0 for none
	Protocols []string `json:"protocols,omitempty"` // ws_set_protocols
}

// What ws_init_func set; touched on the callback thread only, and read
// once that thread has finished running ws_init_func.
var (
	initName      string
	initPeriodic  int
	initProtocols []string
	periodicFunc  unsafe.Pointer
	serverProcess bool // the name and protocols came from the start
)

//export ws_go_main
func ws_go_main() C.int {
	if missing := C.ws_missing_callback(); missing != nil {
		fmt.Fprintf(os.Stderr, "libdorrit: this server does not define %s: a server defines ws_init_func, ws_open_callback, ws_read_callback and ws_close_callback (see dorrit.h)\n", C.GoString(missing))
		return 1
	}
	cb := newCallbacks()
	if env, ok := os.LookupEnv(stateEnv); ok {
		var st state
		if err := json.Unmarshal([]byte(env), &st); err != nil || st.Name == "" {
			fmt.Fprintf(os.Stderr, "libdorrit: %s=%q is not what the starting process set; unset it and start the server again\n", stateEnv, env)
			return 1
		}
		return exitCode(st.Name, lifecycle.Run(context.Background(), server(cb, st), os.Args[1:]))
	}
	return startFirst(cb)
}

// startFirst is the process the user started: the command line is parsed,
// then ws_init_func runs (as the starting user, on the terminal), then
// lifecycle takes over with the name it set.
func startFirst(cb *callbacks) C.int {
	args := os.Args[1:]
	provisional := filepath.Base(os.Args[0])
	cfg, err := parseOnly(provisional, args)
	if err != nil {
		return exitCode(provisional, err)
	}
	setConfigFile(cfg.ConfigFile)
	initName = ""
	cb.do(func() { C.ws_call_init() })
	st := state{Name: initName, Periodic: initPeriodic, Protocols: initProtocols}
	if st.Name == "" {
		st.Name = "server" // the manual's default
	}
	enc, _ := json.Marshal(st) // strings and an int always encode
	os.Setenv(stateEnv, string(enc))
	return exitCode(st.Name, lifecycle.Run(context.Background(), server(cb, st), args))
}

// errParsed stops the parse-only run of lifecycle.Run in its Init hook,
// before it creates anything.
var errParsed = errors.New("command line parsed")

// parseOnly parses args with lifecycle's own flags (-b -h -l -m -u -g -x
// -f) and checks their values, before ws_init_func runs, as the manual
// orders it: lifecycle.Run stops in its Init hook, which runs after the
// parse and before anything is created.
//
// -x goes first, so that this run says nothing about detaching (under
// systemd, lifecycle announces that it stays in the foreground: once, in
// the real run); the command line's own -x still counts there.
func parseOnly(name string, args []string) (*lifecycle.Config, error) {
	var cfg *lifecycle.Config
	err := lifecycle.Run(context.Background(), lifecycle.Server{
		Name:  name,
		Init:  func(c *lifecycle.Config) error { cfg = c; return errParsed },
		Serve: func(context.Context, *dorrit.Listener, *lifecycle.Config) error { return nil },
	}, append([]string{"-x"}, args...))
	if errors.Is(err, errParsed) {
		return cfg, nil
	}
	return nil, err
}

// server is the lifecycle.Server that runs the C callbacks.
func server(cb *callbacks, st state) lifecycle.Server {
	s := lifecycle.Server{
		Name:    st.Name,
		Serve:   cb.serve,
		Options: dorrit.Options{Subprotocols: st.Protocols},
	}
	if st.Periodic > 0 {
		s.Periodic = []lifecycle.Periodic{{
			Every: time.Duration(st.Periodic) * time.Second,
			Func:  func(context.Context) { cb.periodic() },
		}}
	}
	return s
}

// exitCode is lifecycle.Main's exit status for Run's outcome, returned
// rather than exited so that C main returns it and the server's atexit
// handlers run.
func exitCode(name string, err error) C.int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, lifecycle.ErrUsage):
		return 2
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
}

// setConfigFile sets ws_config_file to the -f argument, NULL without -f.
func setConfigFile(path string) {
	if C.ws_config_file != nil {
		C.free(unsafe.Pointer(C.ws_config_file))
		C.ws_config_file = nil
	}
	if path != "" {
		C.ws_config_file = C.CString(path)
	}
}

//export ws_set_name
func ws_set_name(name *C.char) {
	if serverProcess || name == nil {
		return
	}
	initName = C.GoString(name)
}

//export ws_set_periodic
func ws_set_periodic(f unsafe.Pointer, seconds C.int) {
	if f == nil || seconds < 1 {
		periodicFunc, initPeriodic = nil, 0
		return
	}
	periodicFunc, initPeriodic = f, int(seconds)
}

// ws_set_protocols is not in the manual (the front server negotiated the
// sub-protocol there): here the server does, so it must know which it
// speaks. list is comma- or space-separated, in order of preference.
//
//export ws_set_protocols
func ws_set_protocols(list *C.char) {
	if serverProcess {
		return
	}
	initProtocols = nil
	if list != nil {
		initProtocols = strings.FieldsFunc(C.GoString(list), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	}
}
