package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// defaultConfigPath is where a packaged install keeps its config.
const defaultConfigPath = "/etc/ldapsync/config.yaml"

// Config is the whole config file; each package owns its section.
type Config struct {
	Log       LogConfig        `yaml:"log"`
	Directory directory.Config `yaml:"directory"`
	Rules     rules.Config     `yaml:"rules"`
	Sync      sync.Config      `yaml:"sync"`
	API       api.Config       `yaml:"api"`
}

// LogConfig is the "log" section.
type LogConfig struct {
	// Level is trace, debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json, console, or auto: console on a terminal, JSON
	// otherwise (journald, files, containers). Default auto.
	Format string `yaml:"format"`
}

func defaultConfig() Config {
	return Config{
		Log:       LogConfig{Level: "info", Format: "auto"},
		Directory: directory.DefaultConfig(),
		Rules:     rules.DefaultConfig(),
		Sync:      sync.DefaultConfig(),
		API:       api.DefaultConfig(),
	}
}

// loaded is a checked config, ready to wire.
type loaded struct {
	Path  string
	Cfg   Config
	Rules *rules.Rules
}

// configFlag adds --config to fs. Its default is $LDAPSYNC_CONFIG, else
// /etc/ldapsync/config.yaml.
func (a *app) configFlag(fs *flag.FlagSet) *string {
	def := a.getenv("LDAPSYNC_CONFIG")
	if def == "" {
		def = defaultConfigPath
	}
	return fs.String("config", def, "config file (env LDAPSYNC_CONFIG)")
}

// loadConfig reads, decodes and validates a config file. The error lists
// every problem found, each with its YAML path and line.
func loadConfig(path string) (*loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, r, errs := parseConfig(data)
	if len(errs) > 0 {
		return nil, fmt.Errorf("config %s:\n%w", path, errs)
	}
	return &loaded{Path: path, Cfg: cfg, Rules: r}, nil
}

// parseConfig decodes data over the defaults, strictly, and validates it,
// returning the compiled rules when there is no problem.
func parseConfig(data []byte) (Config, *rules.Rules, field.List) {
	var errs field.List
	cfg := defaultConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		errs.Add("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return cfg, nil, errs
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		errs.Add("", "empty config: want a YAML mapping with directory, rules and sync sections (see config.example.yaml)")
		return cfg, nil, errs
	}
	lines := nodeLines(root.Content[0], "")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			errs.Add("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return cfg, nil, errs
		}
		// yaml.v3 decodes all it can around a type error; validate the rest
		// too, so that every problem is reported at once. A field it could
		// not decode keeps its default.
		for _, msg := range te.Errors {
			errs = append(errs, typeError(msg, lines))
		}
	}
	errs.Append(cfg.Log.validate("log"))
	errs.Append(cfg.Directory.Validate("directory"))
	errs.Append(cfg.Sync.Validate("sync"))
	errs.Append(cfg.API.Validate("api"))
	r, rerrs := rules.New(cfg.Rules, "rules")
	errs.Append(rerrs)
	for i, a := range cfg.Rules.Applications {
		if strings.EqualFold(a.Name, cfg.Directory.ActiveGroup) {
			errs.Add(field.Join(field.Index("rules.applications", i), "name"), "%q is the active accounts group (directory.active_group)", a.Name)
		}
	}
	for i := range errs {
		if errs[i].Line == 0 {
			errs[i].Line = lines.find(errs[i].Path)
		}
	}
	if len(errs) > 0 {
		return cfg, nil, errs
	}
	return cfg, r, nil
}

func (c LogConfig) validate(path string) field.List {
	var errs field.List
	if _, err := parseLevel(c.Level); err != nil {
		errs.Add(field.Join(path, "level"), "%v", err)
	}
	switch c.Format {
	case "auto", "json", "console":
	default:
		errs.Add(field.Join(path, "format"), "%q must be auto, json or console", c.Format)
	}
	return errs
}

// lineIndex maps YAML paths to the lines they are written on.
type lineIndex struct {
	byPath map[string]int
	byLine map[int]string
}

// find returns the line of path, or of its nearest written ancestor (a
// default that fails validation has no line of its own).
func (li lineIndex) find(path string) int {
	for path != "" {
		if l, ok := li.byPath[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func nodeLines(n *yaml.Node, path string) lineIndex {
	li := lineIndex{byPath: map[string]int{}, byLine: map[int]string{}}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := field.Join(path, k.Value)
				li.byPath[p] = k.Line
				if _, seen := li.byLine[k.Line]; !seen {
					li.byLine[k.Line] = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				p := field.Index(path, i)
				li.byPath[p] = v.Line
				if _, seen := li.byLine[v.Line]; !seen {
					li.byLine[v.Line] = p
				}
				walk(v, p)
			}
		}
	}
	walk(n, path)
	return li
}

var typeErrorLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeError turns yaml.v3's "line 7: field bind_pasword not found in type
// directory.Config" into a path-named problem.
func typeError(msg string, li lineIndex) field.Error {
	m := typeErrorLine.FindStringSubmatch(msg)
	if m == nil {
		return field.Error{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if f, ok := strings.CutPrefix(text, "field "); ok {
		if name, _, ok := strings.Cut(f, " not found"); ok {
			text = fmt.Sprintf("unknown key %q", name)
		}
	}
	return field.Error{Path: li.byLine[line], Line: line, Msg: text}
}
