// Package field collects configuration and input problems, each named by
// the path of the field it is about, so that a check can report every
// problem at once instead of stopping at the first.
package field

import (
	"fmt"
	"strings"
)

// Error is one problem with one field. Path is a YAML-style path such as
// "rules.units[3].abbr"; Line, when known, is the 1-based line of the field
// in the file it came from.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e Error) Error() string {
	switch {
	case e.Path == "":
		return e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s: %s (line %d)", e.Path, e.Msg, e.Line)
	default:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
}

// List is an ordered collection of problems. Its zero value is ready to use.
type List []Error

// Add records a problem at path.
func (l *List) Add(path, format string, args ...any) {
	*l = append(*l, Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Append records every problem of other.
func (l *List) Append(other List) { *l = append(*l, other...) }

// Err returns nil when the list is empty and the list as an error otherwise.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l List) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Join builds a child path: Join("rules", "units") is "rules.units",
// Join("", "units") is "units".
func Join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// Index builds an element path: Index("rules.units", 3) is "rules.units[3]".
func Index(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}
