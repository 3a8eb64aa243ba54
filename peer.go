package dorrit

import (
	"fmt"
	"net"
	"net/http"
	"slices"
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
		id, err := lookupUID(name, "PeerUsers")
		if err != nil {
			return f, err
		}
		f.uids = append(f.uids, uint32(id))
	}
	for _, name := range o.PeerGroups {
		id, err := lookupGID(name, "PeerGroups")
		if err != nil {
			return f, err
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
	var uid, gid uint32
	var pid int32
	var err error
	raw, rerr := nc.SyscallConn()
	if rerr == nil {
		rerr = raw.Control(func(fd uintptr) { uid, gid, pid, err = peerOf(int(fd)) })
	}
	if rerr != nil || err != nil {
		return peerRefusal(fmt.Sprintf("the peer's credentials cannot be read (%v%v), so Options.PeerUsers/PeerGroups cannot admit it", rerr, err))
	}
	if slices.Contains(f.uids, uid) || slices.Contains(f.gids, gid) {
		return nil
	}
	return peerRefusal(fmt.Sprintf("peer uid %d gid %d (pid %d) is not in Options.PeerUsers/PeerGroups; only the front server's account may connect", uid, gid, pid))
}

func peerRefusal(reason string) *refusal {
	return &refusal{status: http.StatusForbidden, reason: reason,
		count: func(lc *listenerCounters) { lc.refPeer.Add(1) }}
}
