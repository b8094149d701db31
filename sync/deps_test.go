package sync

import (
	"os/exec"
	"strings"
	"testing"
)

// sync plans on the domain's types (rules.Account, rules.Snapshot, …) and
// reaches the directory only through the Directory interface: it never
// imports the directory package, which alone speaks LDAP.
func TestSync_DoesNotImportDirectory(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/directory") || strings.Contains(dep, "go-ldap") {
			t.Errorf("sync depends on %s", dep)
		}
	}
}
