package lifecycle

import (
	"fmt"

	"github.com/dorritgo/dorrit/internal/account"
)

// credentials are the account a server process runs as.
type credentials struct {
	uid, gid      uint32
	user, group   string
	groupFellBack bool // no group "nobody": the user's primary group was taken
}

// lookupCredentials resolves -u and -g, each a name or a numeric ID
// (package account's order). An empty group means "nobody", falling back
// to the user's primary group where no such group exists (Debian calls it
// nogroup).
func lookupCredentials(userName, groupName string) (*credentials, error) {
	u, err := account.User(userName)
	if err != nil {
		return nil, fmt.Errorf("unknown user %q (-u): create it or name an existing account", userName)
	}
	c := &credentials{user: u.Username, uid: account.ID(u.Uid)}
	if groupName == "" {
		g, fellBack, err := account.DefaultGroup(u)
		if err != nil {
			return nil, fmt.Errorf("%v; give one with -g", err)
		}
		c.gid, c.group, c.groupFellBack = account.ID(g.Gid), g.Name, fellBack
		return c, nil
	}
	g, err := account.Group(groupName)
	if err != nil {
		return nil, fmt.Errorf("unknown group %q (-g): create it or name an existing group", groupName)
	}
	c.gid, c.group = account.ID(g.Gid), g.Name
	return c, nil
}
