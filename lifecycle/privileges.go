package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotRoot is matched (errors.Is) by the error DropPrivileges returns
// when the process is not root and not already the account asked for.
var ErrNotRoot = errors.New("lifecycle: not root")

// Account is a user and a group a process runs as.
type Account struct {
	User, Group string
	UID, GID    int

	// GroupFellBack reports that no group was named and the system has no
	// group "nobody" (Debian calls it nogroup), so the user's primary
	// group was taken, as -g does.
	GroupFellBack bool
}

// String says who the account is, and why its group was chosen when no
// group was named.
func (a *Account) String() string {
	s := fmt.Sprintf("%s:%s (uid %d, gid %d)", a.User, a.Group, a.UID, a.GID)
	if a.GroupFellBack {
		s += fmt.Sprintf("; no group \"nobody\" on this system: group %s is the primary group of %s (name a group to choose)", a.Group, a.User)
	}
	return s
}

// LookupAccount finds the account DropPrivileges(userName, groupName)
// switches to, with the same defaults and errors, without changing
// anything: to check -u and -g before anything is created, and to give
// the dorrit socket to the account (Options.SocketUser and SocketGroup,
// as strconv.Itoa of UID and GID) as Run does.
func LookupAccount(userName, groupName string) (*Account, error) {
	if userName == "" {
		userName = "nobody"
	}
	cred, err := lookupCredentials(userName, groupName)
	if err != nil {
		return nil, err
	}
	return &Account{User: cred.user, Group: cred.group, UID: int(cred.uid), GID: int(cred.gid), GroupFellBack: cred.groupFellBack}, nil
}

// DropPrivileges makes the whole process, every thread of it, run as
// userName and groupName, for good: supplementary groups are cleared and
// the real, effective and saved IDs all change, so root cannot be taken
// back. It is the privilege drop of -u/-g for a daemon that keeps its own
// main, done in place instead of in a re-executed process: create what
// needs root first (the dorrit socket with its owner, a port below 1024,
// the pidfile), then call it.
//
// The defaults are those of -u/-g: an empty userName is "nobody"; an empty
// groupName is the group "nobody", or where there is none the user's
// primary group (Account.GroupFellBack). Names or numeric IDs are
// accepted; an unknown one is an error that says what to create or name.
//
// A process that already runs as the account (one an Upgrader started
// after its parent dropped privileges) gets the account and nil. One that
// is neither root nor that account changes nothing and gets an error
// matching ErrNotRoot, which a development run may ignore.
//
// On Linux, Go applies setuid and setgid to every thread of the process
// (since Go 1.16), so no goroutine is left running as root.
func DropPrivileges(userName, groupName string) (*Account, error) {
	a, err := LookupAccount(userName, groupName)
	if err != nil {
		return nil, err
	}
	if isAccount(a) {
		return a, nil
	}
	if os.Geteuid() != 0 {
		return a, fmt.Errorf("%w: running as uid %d gid %d, which cannot become %s:%s; start as root, or do not drop privileges in a development run",
			ErrNotRoot, os.Geteuid(), os.Getegid(), a.User, a.Group)
	}
	// Groups first and the user last: once the user is not root, the
	// groups cannot change any more.
	if err := syscall.Setgroups(nil); err != nil {
		return nil, fmt.Errorf("cannot clear the supplementary groups: %w", err)
	}
	if err := syscall.Setgid(a.GID); err != nil {
		return nil, fmt.Errorf("cannot become group %s (gid %d): %w", a.Group, a.GID, err)
	}
	if err := syscall.Setuid(a.UID); err != nil {
		return nil, fmt.Errorf("cannot become user %s (uid %d): %w", a.User, a.UID, err)
	}
	if !isAccount(a) {
		return nil, fmt.Errorf("privileges not dropped: still uid %d gid %d after becoming %s", os.Geteuid(), os.Getegid(), a)
	}
	return a, nil
}

// isAccount reports whether the process runs as a, real and effective IDs
// both, with no supplementary group other than its own.
func isAccount(a *Account) bool {
	if os.Getuid() != a.UID || os.Geteuid() != a.UID || os.Getgid() != a.GID || os.Getegid() != a.GID {
		return false
	}
	groups, err := os.Getgroups()
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g != a.GID {
			return false
		}
	}
	return true
}
