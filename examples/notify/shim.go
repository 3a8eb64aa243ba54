package main

import (
	"net/http"

	"github.com/dorritgo/dorrit"
)

// Until Authorize's value reaches the connection (Value), the user is
// read from the upgrade request again.
func authorizeShim(f func(*http.Request) (any, error)) func(*http.Request) error {
	return func(r *http.Request) error { _, err := f(r); return err }
}

func userOf(c *dorrit.MessageConn) string { return c.URL().Query().Get("user") }
