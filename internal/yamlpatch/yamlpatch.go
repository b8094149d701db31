// Package yamlpatch sets values in a YAML document by dotted path while
// keeping its comments, so a derived config (make dev's, a test's) reads
// like the example it came from.
package yamlpatch

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Patch returns data with each dotted path in set ("directory.url") given
// its value; missing keys are added.
func Patch(data []byte, set map[string]any) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths) // deterministic output when keys are added
	for _, path := range paths {
		var val yaml.Node
		if err := val.Encode(set[path]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := setPath(root.Content[0], strings.Split(path, "."), &val); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return yaml.Marshal(&root)
}

func setPath(m *yaml.Node, path []string, val *yaml.Node) error {
	if m.Kind != yaml.MappingNode {
		return errors.New("not a mapping")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		if len(path) == 1 {
			val.LineComment = m.Content[i+1].LineComment
			m.Content[i+1] = val
			return nil
		}
		return setPath(m.Content[i+1], path[1:], val)
	}
	next := val
	if len(path) > 1 {
		next = &yaml.Node{Kind: yaml.MappingNode}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}, next)
	if len(path) > 1 {
		return setPath(next, path[1:], val)
	}
	return nil
}
