// Package account looks up users and groups the one way every part of
// dorrit takes them (lifecycle's -u and -g, Options.SocketUser and
// SocketGroup, Options.PeerUsers and PeerGroups, dorritctl's --as): as a
// name first and, when no account has that name and it is a decimal
// number, as a numeric ID, the order chown(1) follows. A name made of
// digits so still means the account of that name.
package account

import (
	"fmt"
	"math"
	"os/user"
	"strconv"
)

// User looks up the user s: the user named s, else the user whose ID is s.
// The error says which of the two was tried.
func User(s string) (*user.User, error) {
	u, err := user.Lookup(s)
	if err == nil {
		return u, nil
	}
	if _, ok := decimal(s); !ok {
		return nil, fmt.Errorf("no user named %q: %w", s, err)
	}
	if u, err = user.LookupId(s); err != nil {
		return nil, fmt.Errorf("no user named or numbered %q: %w", s, err)
	}
	return u, nil
}

// Group looks up the group s: the group named s, else the group whose ID
// is s.
func Group(s string) (*user.Group, error) {
	g, err := user.LookupGroup(s)
	if err == nil {
		return g, nil
	}
	if _, ok := decimal(s); !ok {
		return nil, fmt.Errorf("no group named %q: %w", s, err)
	}
	if g, err = user.LookupGroupId(s); err != nil {
		return nil, fmt.Errorf("no group named or numbered %q: %w", s, err)
	}
	return g, nil
}

// UID is the ID of the user s, looked up as User does; a number that no
// user has is taken as it is, as chown(1) takes it, since the kernel needs
// no name for an ID (an account that exists only in a container's
// orchestration, say).
func UID(s string) (uint32, error) {
	u, err := User(s)
	if err == nil {
		id, _ := decimal(u.Uid)
		return id, nil
	}
	if id, ok := decimal(s); ok {
		return id, nil
	}
	return 0, err
}

// GID is the ID of the group s, looked up as Group does; a number that no
// group has is taken as it is, as UID does.
func GID(s string) (uint32, error) {
	g, err := Group(s)
	if err == nil {
		id, _ := decimal(g.Gid)
		return id, nil
	}
	if id, ok := decimal(s); ok {
		return id, nil
	}
	return 0, err
}

// DefaultGroup is the group a server runs as when none was given: the
// group "nobody" where it exists, else the primary group of u (Debian's
// group for nobody is nogroup, nobody's primary group); fellBack says that
// the second was taken, which the user should be told.
func DefaultGroup(u *user.User) (g *user.Group, fellBack bool, err error) {
	if g, err := user.LookupGroup("nobody"); err == nil {
		return g, false, nil
	}
	g, err = user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, false, fmt.Errorf("no group \"nobody\" and user %s's primary group %s does not exist", u.Username, u.Gid)
	}
	return g, true, nil
}

// UserName is the name of the user with ID uid, or the ID in decimal when
// no user has it, for messages and status pages.
func UserName(uid uint32) string {
	s := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}

// GroupName is the name of the group with ID gid, or the ID in decimal.
func GroupName(gid uint32) string {
	s := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(s); err == nil {
		return g.Name
	}
	return s
}

// ID is a user or group ID in the databases' decimal form, as a uint32
// (the kernel's uid_t and gid_t); 0 for one that is not.
func ID(s string) uint32 {
	id, _ := decimal(s)
	return id
}

// decimal reads s as a user or group ID: decimal digits only (no sign, no
// 0x), within 32 bits, and not 4294967295, which is (uid_t)-1: "leave
// unchanged" to chown(2), no one's ID.
func decimal(s string) (uint32, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil && n != math.MaxUint32
}
