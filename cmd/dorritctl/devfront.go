package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// devPage is the page dev serves: a message box, the log of what was sent
// and received, and the connection state; self-contained.
//
//go:embed devpage.html
var devPage []byte

// devHandler serves the page on / and forwards /ws to the server on socket.
func devHandler(socket string, stderr io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(devPage)
	})
	proxy := devProxy(socket, stderr)
	mux.Handle("/ws", proxy)
	mux.Handle("/ws/", proxy)
	return mux
}

// devProxy forwards requests, WebSocket upgrades included, to the server.
// The browser's Host goes through unchanged: dorrit accepts a browser whose
// Origin is the Host it asked for.
func devProxy(socket string, stderr io.Writer) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: "dorrit-dev"}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		},
		// A browser sees a refused handshake as close code 1006 and
		// nothing else, so the terminal gets the server's explanation.
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusSwitchingProtocols || !isUpgrade(resp.Request) {
				return nil
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			fmt.Fprintf(stderr, "dorritctl dev: the server refused a WebSocket handshake: %s: %s\n",
				resp.Status, strings.TrimSpace(string(body)))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			msg := fmt.Sprintf("dorritctl dev: the server on %s does not answer: %v", socket, err)
			fmt.Fprintln(stderr, msg)
			http.Error(w, msg, http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

func isUpgrade(r *http.Request) bool {
	return r != nil && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
