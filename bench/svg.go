package main

import (
	"fmt"
	"html"
	"os"
	"strings"
)

// writeSVG draws one group of horizontal bars per metric, a bar per server,
// each as long as its figure's share of the group's largest, labelled with
// the figure and its ratio to dorrit. Each group says whether higher or
// lower is better. A server that failed the workload gets "failed" in
// place of its bar.
func writeSVG(path string, r *results) error {
	const (
		width, labelW, barW = 760, 90, 520
		barH, gap, titleH   = 16, 4, 26
	)
	colors := map[string]string{"dorrit": "#2e7d32", "coder": "#1565c0", "gorilla": "#6a1b9a",
		"gws": "#ef6c00", "gobwas": "#00838f", "raw": "#9e9e9e"}
	var b strings.Builder
	y := 10
	for _, s := range r.Metrics {
		top := 0.0
		for _, v := range s.Median {
			top = max(top, v)
		}
		base := s.Median["dorrit"]
		better := "lower is better"
		if s.Higher {
			better = "higher is better"
		}
		y += titleH
		fmt.Fprintf(&b, `<text x="4" y="%d" font-weight="bold">%s</text><text x="%d" y="%d" fill="#666" text-anchor="end">%s, %s</text>`+"\n",
			y-8, html.EscapeString(s.Name), width-4, y-8, html.EscapeString(s.Unit), better)
		for _, name := range r.Config.Servers {
			if _, ok := s.Failed[name]; ok { // no bar; the reason is in the text output and the JSON
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+barH-3, name)
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#c62828">failed</text>`+"\n", labelW+6, y+barH-3)
				y += barH + gap
				continue
			}
			v, ok := s.Median[name]
			if !ok {
				continue
			}
			w := 1
			if top > 0 {
				w = max(1, int(float64(barW)*v/top))
			}
			label := format(v)
			if base > 0 && name != "dorrit" {
				label += fmt.Sprintf("  (%.2f×)", v/base)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+barH-3, name)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, labelW, y, w, barH, colors[name])
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", labelW+w+6, y+barH-3, label)
			y += barH + gap
		}
	}
	y += 20
	fmt.Fprintf(&b, `<text x="4" y="%d" fill="#666">%d CPUs, %s, medians of %d round(s), unix socket; (×) is the ratio to dorrit; go run ./bench</text>`,
		y-6, r.Machine.CPUs, r.Machine.Go, r.Config.Rounds)
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n"+
		`<rect width="100%%" height="100%%" fill="white"/>`+"\n%s\n</svg>\n", width, y, b.String())
	return os.WriteFile(path, []byte(svg), 0o644)
}
