package integration

import (
	"path/filepath"
	"testing"
)

// A graceful upgrade under load, through nginx: the echo example runs as a
// daemon (dorritctl start) behind nginx with the configuration dorritctl
// prints. 200 clients converse through nginx, each with up to 8 numbered
// messages in flight, reconnecting when a server lets them go, while 4
// more keep dialing short conversations (dial, one echo, close). Then two
// upgrades: `dorritctl reload`, and SIGHUP to the supervisor as an init
// script's reload sends it. Through both:
//   - no dial fails and no handshake is refused (no 503, no 502 from nginx);
//   - every conversation a client ends (close 1000) got every echo, in order;
//   - every connection a replaced server lets go after its grace (1001) got
//     the echoes of its messages in order, without a gap, up to the close:
//     what it lacks is its last few messages, in flight when the server's
//     close went out (RFC 6455: the server reads nothing after its close);
//   - the servers' own figures (dorritctl status) agree: every message a
//     server read was echoed, every echo reached its client.
func TestUpgradeUnderLoadThroughNginx(t *testing.T) {
	socket := filepath.Join(sharedDir(t), "echo.socket")
	d := startDaemon(t, "echo", echoBin, socket)
	site := "127.0.0.1:" + freePort(t)
	conf := generated(t, "nginx", "echo", "--socket", socket, "--listen", site, "--location", "/ws")
	startNginx(t, conf, site)

	const clients, dialers, window = 200, 4, 8
	l := startEchoLoad(t, "ws://"+site+"/ws", "http://"+site, clients, dialers, window)
	l.waitConversing(t, clients, 0)
	first := d.status(t).Status.Servers[0].PID

	upgrades := []struct {
		how string
		do  func(*testing.T) int
	}{{"dorritctl reload", d.reload}, {"SIGHUP", d.hup}}
	for i, u := range upgrades {
		old := u.do(t)
		if i == 0 && old != first {
			t.Fatalf("%s replaced PID %d, but PID %d was serving", u.how, old, first)
		}
		// The replaced server serves its connections for its grace (1 s),
		// then lets every one go with 1001: each client reconnects, to
		// the new server.
		d.waitStatus(t, "end of the replaced server "+u.how, func(st daemonStatus) bool {
			return st.Status != nil && len(st.Status.Servers) == 1 && st.Status.Servers[0].PID != old
		})
		l.waitConversing(t, clients, (i+1)*clients)
	}
	r := l.finish(t)
	t.Logf("%s", r)
	if r.failedDials+r.refused+r.cut+r.misordered > 0 {
		t.Fatalf("upgrades under load: %s", r)
	}
	if r.goingAway < len(upgrades)*clients {
		t.Fatalf("%d connections let go with 1001, want at least %d (%d clients, %d upgrades): %s", r.goingAway, len(upgrades)*clients, clients, len(upgrades), r)
	}

	// What the servers counted, the replaced ones included: every message
	// read was echoed and every echo reached its client. The last server
	// answers for its figures as of the status (a heartbeat asked for).
	st := d.waitStatus(t, "figures that account for every echo", func(st daemonStatus) bool {
		return st.Status != nil && st.Status.Total.MessagesOut == r.echoes
	})
	tot := st.Status.Total
	t.Logf("servers: %d accepted, %d messages read, %d echoed, %d undelivered, %d refused as full",
		tot.Accepted, tot.MessagesIn, tot.MessagesOut, tot.Undelivered, tot.Refused.Full)
	if tot.MessagesIn != tot.MessagesOut || tot.Undelivered != 0 || tot.Refused.Full != 0 {
		t.Fatalf("the servers read %d messages and echoed %d, %d undelivered, %d refused as full; the clients got %d echoes",
			tot.MessagesIn, tot.MessagesOut, tot.Undelivered, tot.Refused.Full, r.echoes)
	}
	if r.sent-r.echoes != r.inFlight || tot.MessagesIn != r.sent-r.inFlight {
		t.Fatalf("the clients sent %d messages, got %d echoes, %d were in flight at a 1001; the servers read %d",
			r.sent, r.echoes, r.inFlight, tot.MessagesIn)
	}
}
