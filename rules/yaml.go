package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// unmarshalScalar decodes a YAML scalar with parse. A bad value comes back
// as a *yaml.TypeError naming its line, which yaml.v3 collects with the
// file's other problems instead of stopping at it.
func unmarshalScalar(n *yaml.Node, parse func([]byte) error) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a single value, not a list or mapping", n.Line)}}
	}
	if err := parse([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, d.UnmarshalText) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Period) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, p.UnmarshalText) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Date) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, d.UnmarshalText) }
