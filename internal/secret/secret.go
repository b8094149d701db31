// Package secret holds values that must never reach a log line, an error
// string, an audit record or a metric: bind passwords, API tokens and the
// first passwords written into credential letters.
package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Redacted is what a Secret prints as.
const Redacted = "<secret>"

// Secret is a string that formats as "<secret>" with every fmt verb, in
// JSON, and in zerolog fields. Reveal returns the value for the one place
// that needs it (an LDAP request, a sealed letter).
type Secret struct{ v string }

// New wraps s.
func New(s string) Secret { return Secret{v: s} }

// Reveal returns the secret value. Call it only where the value leaves the
// process on purpose.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer, so %#v is redacted too.
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb (%x, %q, %v …) leaks the
// value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, zerolog).
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Source says where a secret comes from: a file (read whole, one trailing
// newline removed) or an environment variable. Exactly one must be set.
type Source struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// IsZero reports whether neither a file nor a variable is named.
func (s Source) IsZero() bool { return s.File == "" && s.Env == "" }

// Load reads the secret. Its errors name the file or variable, never the
// value.
func (s Source) Load() (Secret, error) {
	switch {
	case s.File != "" && s.Env != "":
		return Secret{}, errors.New("secret: set either file or env, not both")
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return Secret{}, fmt.Errorf("secret: %w", err)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return Secret{}, fmt.Errorf("secret: file %s is empty", s.File)
		}
		return New(v), nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return Secret{}, fmt.Errorf("secret: environment variable %s is not set", s.Env)
		}
		return New(v), nil
	default:
		return Secret{}, errors.New("secret: no file or env given")
	}
}
