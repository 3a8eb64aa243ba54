package dorrit

import (
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/dorritgo/dorrit/internal/peercred"
	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// peerFilter is Options.PeerUsers and PeerGroups resolved to IDs; the zero
// value admits everyone.
type peerFilter struct {
	on         bool
	uids, gids []uint32
}

func newPeerFilter(o Options) (peerFilter, error) {
	f := peerFilter{on: len(o.PeerUsers)+len(o.PeerGroups) > 0}
	for _, name := range o.PeerUsers {
		id, err := unixsocket.LookupUID(name, "PeerUsers")
		if err != nil {
			return f, invalidOptions(err)
		}
		f.uids = append(f.uids, uint32(id))
	}
	for _, name := range o.PeerGroups {
		id, err := unixsocket.LookupGID(name, "PeerGroups")
		if err != nil {
			return f, invalidOptions(err)
		}
		f.gids = append(f.gids, uint32(id))
	}
	return f, nil
}

// check asks the kernel who connected (SO_PEERCRED) and refuses a peer
// outside the lists, before anything of its request is read.
func (f peerFilter) check(nc *net.UnixConn) *refusal {
	if !f.on {
		return nil
	}
	cred, err := peercred.Of(nc)
	if err != nil {
		return peerRefusal(fmt.Sprintf("the peer's credentials cannot be read (%v), so Options.PeerUsers/PeerGroups cannot admit it", err))
	}
	if slices.Contains(f.uids, cred.UID) || slices.Contains(f.gids, cred.GID) {
		return nil
	}
	return peerRefusal(fmt.Sprintf("peer uid %d gid %d (pid %d) is not in Options.PeerUsers/PeerGroups; only the front server's account may connect", cred.UID, cred.GID, cred.PID))
}

func peerRefusal(reason string) *refusal {
	return &refusal{status: http.StatusForbidden, reason: reason,
		count: func(lc *listenerCounters) { lc.refPeer.Add(1) }}
}
