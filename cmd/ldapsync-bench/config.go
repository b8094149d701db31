package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// fileConfig is the config file as cmd/ldapsync reads it: each package
// owns its section.
type fileConfig struct {
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Directory directory.Config `yaml:"directory"`
	Rules     rules.Config     `yaml:"rules"`
	Sync      sync.Config      `yaml:"sync"`
	API       api.Config       `yaml:"api"`
}

// benchConfig is the config the bench runs the engine and the daemon with:
// config.example.yaml with the harness's slapd, a state directory of this
// run, the HTTP API on loopback, and directory.connections set to P.
type benchConfig struct {
	Path      string // the config file, for the daemon
	Cfg       fileConfig
	Rules     *rules.Rules
	StateDir  string
	Inbox     string
	Listen    string // api.listen
	TokenFile string // the operator's token
}

// writeConfig derives the bench config from example into dir/config.yaml
// and loads it as cmd/ldapsync does: over the defaults, unknown keys
// refused, every section validated.
func writeConfig(example, dir string, srv *slapdtest.Server, conns int) (*benchConfig, error) {
	data, err := os.ReadFile(example)
	if err != nil {
		return nil, err
	}
	bc := &benchConfig{
		Path:      filepath.Join(dir, "config.yaml"),
		StateDir:  filepath.Join(dir, "state"),
		Inbox:     filepath.Join(dir, "state", "inbox"),
		TokenFile: filepath.Join(dir, "operator.token"),
	}
	if bc.Listen, err = freeLoopback(); err != nil {
		return nil, err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	if err := os.WriteFile(bc.TokenFile, []byte(hex.EncodeToString(tok)+"\n"), 0o600); err != nil {
		return nil, err
	}
	patched, err := yamlpatch.Patch(data, map[string]any{
		"log.level":               "warn",
		"log.format":              "json",
		"directory.url":           srv.URL,
		"directory.base_dn":       srv.BaseDN,
		"directory.bind_dn":       srv.ServiceDN,
		"directory.bind_password": map[string]string{"file": srv.ServicePasswordFile},
		"directory.connections":   conns,
		"sync.state_dir":          bc.StateDir,
		"sync.letters_dir":        filepath.Join(bc.StateDir, "letters"),
		"sync.inbox.dir":          bc.Inbox,
		"sync.inbox.poll":         "1s",
		"sync.inbox.settle":       "0s",
		// The mixed batch and the roster move and lock more accounts than
		// the guard lets one run change: it would hold them for an
		// operator, and the bench measures applying them, not holding.
		"sync.guard.max_count":   1_000_000_000,
		"sync.guard.max_percent": 100,
		"api.listen":             bc.Listen,
		"api.tokens":             []map[string]string{{"name": "bench-operator", "file": bc.TokenFile, "role": "operator"}},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", example, err)
	}
	if err := os.WriteFile(bc.Path, patched, 0o600); err != nil {
		return nil, err
	}
	if bc.Cfg, bc.Rules, err = parseConfig(patched); err != nil {
		return nil, fmt.Errorf("%s (from %s): %w", bc.Path, example, err)
	}
	return bc, nil
}

// parseConfig decodes data over the defaults, strictly, and validates it.
func parseConfig(data []byte) (fileConfig, *rules.Rules, error) {
	cfg := fileConfig{
		Directory: directory.DefaultConfig(),
		Rules:     rules.DefaultConfig(),
		Sync:      sync.DefaultConfig(),
		API:       api.DefaultConfig(),
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, nil, err
	}
	var errs field.List
	errs.Append(cfg.Directory.Validate("directory"))
	errs.Append(cfg.Sync.Validate("sync"))
	errs.Append(cfg.API.Validate("api"))
	r, rerrs := rules.New(cfg.Rules, "rules")
	errs.Append(rerrs)
	if err := errs.Err(); err != nil {
		return cfg, nil, err
	}
	return cfg, r, nil
}

// freeLoopback returns a loopback address nothing listens on now.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
