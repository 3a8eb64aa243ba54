package lifecycle

import (
	"fmt"
	"os/user"
	"strconv"
)

// credentials are the account a server process runs as.
type credentials struct {
	uid, gid      uint32
	user, group   string
	groupFellBack bool // no group "nobody": the user's primary group was taken
}

// lookupCredentials resolves -u and -g. An empty group means "nobody",
// falling back to the user's primary group where no such group exists
// (Debian calls it nogroup).
func lookupCredentials(userName, groupName string) (*credentials, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		if _, nerr := strconv.Atoi(userName); nerr != nil {
			return nil, fmt.Errorf("unknown user %q (-u): create it or name an existing account", userName)
		}
		if u, err = user.LookupId(userName); err != nil {
			return nil, fmt.Errorf("unknown user ID %s (-u)", userName)
		}
	}
	c := &credentials{user: u.Username}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	c.uid = uint32(uid)

	var g *user.Group
	switch {
	case groupName != "":
		if g, err = user.LookupGroup(groupName); err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return nil, fmt.Errorf("unknown group %q (-g): create it or name an existing group", groupName)
			}
		}
	default:
		if g, err = user.LookupGroup("nobody"); err != nil {
			if g, err = user.LookupGroupId(u.Gid); err != nil {
				return nil, fmt.Errorf("no group \"nobody\" and user %s's primary group %s does not exist; give one with -g", u.Username, u.Gid)
			}
			c.groupFellBack = true
		}
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	c.gid, c.group = uint32(gid), g.Name
	return c, nil
}
