package account_test

import (
	"os/user"
	"strings"
	"testing"

	"github.com/dorritgo/dorrit/internal/account"
)

// Every Debian and FreeBSD system has root (0, group 0) and nobody; no
// account has the ID unknownID.
const unknownID = "3999999999"

func TestUserByNameThenID(t *testing.T) {
	for _, s := range []string{"root", "0"} {
		u, err := account.User(s)
		if err != nil || u.Uid != "0" || u.Username != "root" {
			t.Errorf("User(%q) = %+v, %v; want root", s, u, err)
		}
	}
	for _, tc := range []struct{ s, want string }{
		{"no-such-user-here", `no user named "no-such-user-here"`},
		{unknownID, `no user named or numbered "` + unknownID + `"`},
		{"-1", `no user named "-1"`},
		{"4294967295", `no user named "4294967295"`}, // (uid_t)-1
	} {
		if u, err := account.User(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("User(%q) = %+v, %v; want an error saying %s", tc.s, u, err, tc.want)
		}
	}
}

func TestGroupByNameThenID(t *testing.T) {
	root, err := user.LookupGroupId("0")
	if err != nil {
		t.Skip("no group 0 in this system's database")
	}
	for _, s := range []string{root.Name, "0"} {
		g, err := account.Group(s)
		if err != nil || g.Gid != "0" {
			t.Errorf("Group(%q) = %+v, %v; want group 0", s, g, err)
		}
	}
	if g, err := account.Group(unknownID); err == nil || !strings.Contains(err.Error(), "no group named or numbered") {
		t.Errorf("Group(%q) = %+v, %v; want an error", unknownID, g, err)
	}
}

// UID and GID take a number no account has as it is, as chown(1) does;
// a name no account has is an error.
func TestIDs(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want uint32
		ok   bool
	}{
		{"root", 0, true},
		{"0", 0, true},
		{unknownID, 3999999999, true},
		{"no-such-user-here", 0, false},
		{"-1", 0, false},
		{"4294967295", 0, false},
		{"0x10", 0, false},
		{"", 0, false},
	} {
		got, err := account.UID(tc.s)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("UID(%q) = %d, %v; want %d, ok %v", tc.s, got, err, tc.want, tc.ok)
		}
		if tc.s == "root" {
			continue // the group 0 is named root on Debian, wheel on FreeBSD
		}
		got, err = account.GID(tc.s)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("GID(%q) = %d, %v; want %d, ok %v", tc.s, got, err, tc.want, tc.ok)
		}
	}
}

// The default group is "nobody" where it exists, else nobody's primary
// group (Debian: nogroup), and says which.
func TestDefaultGroup(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here")
	}
	g, fellBack, err := account.DefaultGroup(nobody)
	if err != nil {
		t.Fatal(err)
	}
	if named, err := user.LookupGroup("nobody"); err == nil {
		if fellBack || g.Gid != named.Gid {
			t.Fatalf("DefaultGroup = %+v, fell back %v; want the group nobody (%s)", g, fellBack, named.Gid)
		}
		return
	}
	if !fellBack || g.Gid != nobody.Gid {
		t.Fatalf("DefaultGroup = %+v, fell back %v; want nobody's primary group %s, fallen back", g, fellBack, nobody.Gid)
	}
	missing := &user.User{Username: "ghost", Gid: unknownID}
	if _, _, err := account.DefaultGroup(missing); err == nil || !strings.Contains(err.Error(), `no group "nobody" and user ghost's primary group`) {
		t.Fatalf("DefaultGroup of a user whose group does not exist: %v", err)
	}
}

func TestNames(t *testing.T) {
	if got := account.UserName(0); got != "root" {
		t.Errorf("UserName(0) = %q, want root", got)
	}
	if got := account.UserName(3999999999); got != unknownID {
		t.Errorf("UserName(%s) = %q, want the number", unknownID, got)
	}
	if got := account.GroupName(3999999999); got != unknownID {
		t.Errorf("GroupName(%s) = %q, want the number", unknownID, got)
	}
	if g, err := user.LookupGroupId("0"); err == nil {
		if got := account.GroupName(0); got != g.Name {
			t.Errorf("GroupName(0) = %q, want %q", got, g.Name)
		}
	}
}
