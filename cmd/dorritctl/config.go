package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/dorritgo/dorrit/internal/unixsocket"
)

var configCommand = &command{
	name:     "config",
	synopsis: "nginx|haproxy|caddy|apache|systemd|rcd NAME [--socket PATH] [--location /ws] [--host H] [--listen ADDR] [--group G] [--binary PATH] [--socket-activation] [--out DIR]",
	summary:  "print a working front server, systemd or rc.d configuration for a server",
	order:    50,
	details: `
  nginx     /etc/nginx/conf.d/NAME.conf: the Upgrade map, HTTP/1.1, Host forwarded, and
            the nginx.conf limits that 2000 connections need
  haproxy   a frontend and backend for /etc/haproxy/haproxy.cfg, with timeout tunnel
  caddy     a Caddyfile site: reverse_proxy to unix//SOCKET
  apache    /etc/apache2/sites-available/NAME.conf: ProxyPass … upgrade=websocket (2.4.47+),
            and worker threads for 2000 connections
  systemd   NAME.service (Type=notify, -x); with --socket-activation also NAME.socket
  rcd       /usr/local/etc/rc.d/NAME for FreeBSD: NAME_enable, NAME_flags, pidfile

  --socket PATH        the server's socket (default /var/run/NAME.socket; /run/NAME.socket for systemd)
  --location /ws       the URL path the front server forwards (default /ws)
  --host H             the site's host name (default localhost; Caddy: none, plain HTTP)
  --listen ADDR        where the front server listens: a port or host:port (default 80)
  --group G            the server's -g: a group of the front server's account (default
                       www-data; haproxy, caddy for those; www for rcd)
  --binary PATH        the server's executable, for systemd and rcd (default /usr/local/bin/NAME)
  --socket-activation  systemd: add NAME.socket, which creates the socket; the server adopts it
  --out DIR            write the files into DIR instead of printing them

The socket is mode 0770 (srwxrwx---), so the front server's account must be
in the socket's group: the server is started as root with -g GROUP, and the
comments in each file say which group that is.`,
}

// confData is what the templates fill in.
type confData struct {
	Name, Socket, Location string
	Host                   string // "" when not given
	Listen                 string // as given: "80" or "127.0.0.1:8080"
	ListenHost, ListenPort string
	Group                  string // for -g
	Binary                 string
	SocketActivation       bool
	Generated              string // the command line that made the file
}

// A generator makes the files of one target.
type generator struct {
	name         string
	group        string // default -g: the front server's group on Debian
	socketPrefix string // default socket directory
	files        func(d *confData) ([]genFile, error)
}

// A genFile is one generated file and where it goes.
type genFile struct {
	path string // where it is installed
	mode os.FileMode
	text string
}

var generators = map[string]*generator{}

func registerGenerator(g *generator) { generators[g.name] = g }

func init() {
	configCommand.run = runConfig
	register(configCommand)
}

// validName is a server name that can name a file, a unit and a pidfile.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func runConfig(s *streams, args []string) int {
	c := configCommand
	fs := newFlags(c)
	d := &confData{}
	fs.StringVar(&d.Socket, "socket", "", "")
	fs.StringVar(&d.Location, "location", "/ws", "")
	fs.StringVar(&d.Host, "host", "", "")
	fs.StringVar(&d.Listen, "listen", "80", "")
	fs.StringVar(&d.Group, "group", "", "")
	fs.StringVar(&d.Binary, "binary", "", "")
	fs.BoolVar(&d.SocketActivation, "socket-activation", false, "")
	out := fs.String("out", "", "")
	p, status := parseOrReport(c, s, fs, args)
	if p == nil {
		return status
	}
	if len(p.positional) == 0 {
		return c.usage(s, "missing the target: one of %s", targetList())
	}
	g := generators[p.positional[0]]
	switch {
	case g == nil:
		return c.usage(s, "unknown target %q: one of %s", p.positional[0], targetList())
	case len(p.positional) < 2:
		return c.usage(s, "missing NAME, the server's name (lifecycle.Server.Name), e.g. dorritctl config %s echo", g.name)
	case len(p.positional) > 2 || p.dashdash:
		return c.usage(s, "too many operands: give the target and NAME only")
	}
	d.Name = p.positional[1]
	if err := d.complete(g); err != nil {
		return c.usage(s, "%v", err)
	}
	d.Generated = commandLine(args)
	files, err := g.files(d)
	if err != nil {
		return c.usage(s, "%v", err)
	}
	if *out == "" {
		for i, f := range files {
			if i > 0 {
				fmt.Fprintln(s.stdout)
			}
			fmt.Fprint(s.stdout, f.text)
		}
		return exitOK
	}
	for _, f := range files {
		dst := filepath.Join(*out, filepath.Base(f.path))
		if err := os.WriteFile(dst, []byte(f.text), f.mode); err != nil {
			return c.fail(s, exitFailure, "%v (does --out %s exist?)", err, *out)
		}
		fmt.Fprintf(s.stderr, "wrote %s (install it as %s)\n", dst, f.path)
	}
	return exitOK
}

// complete checks the operands and fills in the defaults of target g.
func (d *confData) complete(g *generator) error {
	if !validName.MatchString(d.Name) {
		return fmt.Errorf("NAME %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", d.Name)
	}
	if d.Socket == "" {
		d.Socket = unixsocket.DefaultPath(d.Name)
		if g.socketPrefix != "" {
			d.Socket = g.socketPrefix + d.Name + ".socket"
		}
	}
	if !filepath.IsAbs(d.Socket) {
		return fmt.Errorf("--socket %q: give an absolute path, as the front server resolves it from its own directory", d.Socket)
	}
	if strings.ContainsAny(d.Socket, " \t\n\"'|;{}#$\\") {
		return fmt.Errorf("--socket %q: choose a path without spaces, quotes or | ; { } # $ \\, which the configuration languages treat specially", d.Socket)
	}
	if !strings.HasPrefix(d.Location, "/") || strings.ContainsAny(d.Location, " \t\n\"'{};#$*?\\") {
		return fmt.Errorf("--location %q: give a URL path such as /ws", d.Location)
	}
	if d.Location != "/" {
		d.Location = strings.TrimSuffix(d.Location, "/")
	}
	if d.Host != "" && !regexp.MustCompile(`^[A-Za-z0-9.-]+$`).MatchString(d.Host) {
		return fmt.Errorf("--host %q: give a host name such as example.com", d.Host)
	}
	host, port, err := net.SplitHostPort(d.Listen)
	if err != nil {
		host, port = "", d.Listen
	}
	if !regexp.MustCompile(`^[0-9]{1,5}$`).MatchString(port) {
		return fmt.Errorf("--listen %q: give a port (80) or host:port (127.0.0.1:8080)", d.Listen)
	}
	d.ListenHost, d.ListenPort = host, port
	if d.Group == "" {
		d.Group = g.group
	}
	if !validName.MatchString(d.Group) {
		return fmt.Errorf("--group %q is not a group name", d.Group)
	}
	if d.Binary == "" {
		d.Binary = "/usr/local/bin/" + d.Name
	}
	if !filepath.IsAbs(d.Binary) || strings.ContainsAny(d.Binary, " \t\n\"'\\$;") {
		return fmt.Errorf("--binary %q: give an absolute path without spaces or quotes", d.Binary)
	}
	if d.SocketActivation && g.name != "systemd" {
		return fmt.Errorf("--socket-activation is for the systemd target")
	}
	return nil
}

// ListenAddr is host:port, or the port alone.
func (d *confData) ListenAddr() string {
	if d.ListenHost == "" {
		return d.ListenPort
	}
	return net.JoinHostPort(d.ListenHost, d.ListenPort)
}

// ServerName is the host name for nginx and Apache.
func (d *confData) ServerName() string {
	if d.Host == "" {
		return "localhost"
	}
	return d.Host
}

// commandLine is "dorritctl config ARGS" for a comment, each argument on
// one line and quoted when the shell would need it.
func commandLine(args []string) string {
	words := []string{"dorritctl", "config"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$;&|<>()*?#~`") {
			a = strconv.Quote(a)
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

func targetList() string {
	names := make([]string, 0, len(generators))
	for n := range generators {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// frontTemplate is a front server's template, with the comment it shares
// with the others: "access", how the server gives its socket to the front
// server's group.
func frontTemplate(name, text string) *template.Template {
	t := template.Must(template.New(name).Parse(text))
	template.Must(t.New("access").Parse(accessComment))
	return t
}

// accessComment serves both ways of running a server: lifecycle's flags,
// and an application that calls dorrit.Listen in a daemon of its own
// (which has no -l or -g).
const accessComment = `# What matters is the socket's path and group, however the server starts.
# A server run by package lifecycle, started as root:
#     {{.Name}} -l {{.Socket}} -g {{.Group}}
# An application that calls dorrit.Listen in a daemon of its own (run as
# root, or as a member of {{.Group}}):
#     dorrit.Options{Path: "{{.Socket}}", SocketGroup: "{{.Group}}"}
`

// execute fills in a template.
func execute(tmpl *template.Template, d *confData) (string, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// single is the files function of a target with one template.
func single(path func(d *confData) string, mode os.FileMode, tmpl *template.Template) func(d *confData) ([]genFile, error) {
	return func(d *confData) ([]genFile, error) {
		text, err := execute(tmpl, d)
		if err != nil {
			return nil, err
		}
		return []genFile{{path: path(d), mode: mode, text: text}}, nil
	}
}
