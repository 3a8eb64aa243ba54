package main

import (
	"fmt"
	"sort"
)

// A command is one subcommand of dorritctl. Each lives in a file of its
// own and adds itself to the table with register in an init function, so
// that a new subcommand (start, stop, status…) is a new file and nothing
// else.
type command struct {
	name     string
	synopsis string // the arguments, as in "dorritctl NAME SYNOPSIS"
	summary  string // one line for 'dorritctl help'
	details  string // what 'dorritctl help NAME' adds below the synopsis
	order    int    // position in 'dorritctl help'; ties sort by name
	run      func(s *streams, args []string) int
}

var commands = map[string]*command{}

// register adds c to the table; a name given twice is a programming error.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("dorritctl: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

func lookup(name string) *command { return commands[name] }

// sorted lists the commands in help order.
func sorted() []*command {
	list := make([]*command, 0, len(commands))
	for _, c := range commands {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].order != list[j].order {
			return list[i].order < list[j].order
		}
		return list[i].name < list[j].name
	})
	return list
}

// usage reports a bad command line in one line, saying what to do, and
// returns exitUsage.
func (c *command) usage(s *streams, format string, args ...any) int {
	fmt.Fprintf(s.stderr, "dorritctl %s: %s (usage: dorritctl %s %s; see 'dorritctl help %s')\n",
		c.name, fmt.Sprintf(format, args...), c.name, c.synopsis, c.name)
	return exitUsage
}

// fail reports an error that is not the command line's fault and returns status.
func (c *command) fail(s *streams, status int, format string, args ...any) int {
	fmt.Fprintf(s.stderr, "dorritctl %s: %s\n", c.name, fmt.Sprintf(format, args...))
	return status
}
