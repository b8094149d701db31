package slapdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// environment is what the installed OpenLDAP offers; it is looked up once
// per process.
type environment struct {
	slapd, slapadd, ldapmodify string
	moduleDir, schemaDir       string
	argon2                     bool
}

var (
	envOnce sync.Once
	envVal  *environment
	envErr  error
)

// Where Debian (first) and other distributions install OpenLDAP.
var (
	sbinDirs   = []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"}
	moduleDirs = []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap"}
	schemaDirs = []string{"/etc/ldap/schema", "/etc/openldap/schema"}
)

func env() (*environment, error) {
	envOnce.Do(func() { envVal, envErr = lookupEnv() })
	return envVal, envErr
}

func lookupEnv() (*environment, error) {
	var e environment
	var missing []error
	for _, b := range []struct {
		name string
		dst  *string
	}{{"slapd", &e.slapd}, {"slapadd", &e.slapadd}, {"ldapmodify", &e.ldapmodify}} {
		p, err := findTool(b.name)
		if err != nil {
			missing = append(missing, err)
		}
		*b.dst = p
	}
	e.moduleDir = firstWith(moduleDirs, "back_mdb.so")
	if e.moduleDir == "" {
		missing = append(missing, fmt.Errorf("back_mdb.so not found in %v", moduleDirs))
	}
	e.schemaDir = firstWith(schemaDirs, "inetorgperson.ldif")
	if e.schemaDir == "" {
		missing = append(missing, fmt.Errorf("inetorgperson.ldif not found in %v", schemaDirs))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("slapdtest: OpenLDAP is not installed (apt-get install slapd ldap-utils): %w", errors.Join(missing...))
	}
	_, err := os.Stat(filepath.Join(e.moduleDir, "argon2.so"))
	e.argon2 = err == nil
	return &e, nil
}

// findTool looks name up in PATH, then in the sbin directories, which an
// ordinary user's PATH often lacks.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if d := firstWith(sbinDirs, name); d != "" {
		return filepath.Join(d, name), nil
	}
	return "", fmt.Errorf("%s not found in PATH or %v", name, sbinDirs)
}

// firstWith returns the first of dirs that holds file.
func firstWith(dirs []string, file string) string {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, file)); err == nil {
			return d
		}
	}
	return ""
}
