package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
)

// The daemon's JSON API, on its own listener (loopback: it is for the web
// application's back end, not for browsers):
//
//	POST /notify  {"user": "alice", "text": "hi"}  → {"id": …, "delivered": n}
//	              no user: to everyone
//	GET  /token?user=alice                         → {"token": "…"}
//	GET  /stats                                    → browsers, notifications, …
func (d *daemon) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ User, Text string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, `want {"user": "…", "text": "…"}: `+err.Error(), http.StatusBadRequest)
			return
		}
		id, n := d.hub.notify(req.User, req.Text)
		writeJSON(w, map[string]any{"id": id, "delivered": n})
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			http.Error(w, "want ?user=", http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"token": d.token(user)})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		st := d.ws.Stats()
		writeJSON(w, map[string]any{"pid": os.Getpid(), "hub": d.hub.stats(),
			"websockets": map[string]any{"live": st.Live, "accepted": st.Accepted, "messages_out": st.MessagesOut}})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// token is what a browser of user presents (?user=…&token=…): the web
// application asks for it over the API and puts it in its page.
func (d *daemon) token(user string) string {
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil))
}

var errBadToken = errors.New("notify: missing or wrong ?user= and ?token=")

// authorize is dorrit's Authorize: the browser's user, from its upgrade
// request, or 403.
func (d *daemon) authorize(r *http.Request) (any, error) {
	q := r.URL.Query()
	user, token := q.Get("user"), q.Get("token")
	if user == "" || !hmac.Equal([]byte(token), []byte(d.token(user))) {
		return nil, errBadToken
	}
	return user, nil
}
