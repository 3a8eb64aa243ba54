package dorrit

import (
	"net/http"
	"testing"
)

// Sub-protocol tokens are compared exactly (RFC 6455 §4.1): a browser fails
// the connection unless the answer is one of its offers, byte for byte.
func TestSelectProtocol(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offers []string // Sec-WebSocket-Protocol lines
		ours   []string
		want   string
	}{
		{"no offer", nil, []string{"chat"}, ""},
		{"no server protocols", []string{"chat"}, nil, ""},
		{"exact", []string{"chat"}, []string{"chat"}, "chat"},
		{"case differs", []string{"Chat"}, []string{"chat"}, ""},
		{"case differs, server upper", []string{"chat"}, []string{"CHAT"}, ""},
		{"exact among case variants", []string{"Chat, chat"}, []string{"chat"}, "chat"},
		{"our order wins", []string{"v1, v2"}, []string{"v2", "v1"}, "v2"},
		{"second of ours", []string{"v1"}, []string{"v2", "v1"}, "v1"},
		{"across lines, spaces trimmed", []string{"a", " v1 ,v2 "}, []string{"v2"}, "v2"},
		{"prefix is no match", []string{"chat.v1"}, []string{"chat"}, ""},
	} {
		h := http.Header{"Sec-Websocket-Protocol": tc.offers}
		if got := selectProtocol(h, tc.ours); got != tc.want {
			t.Errorf("%s: offers %q, ours %q: chose %q, want %q", tc.name, tc.offers, tc.ours, got, tc.want)
		}
	}
}
