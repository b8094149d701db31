package yamlpatch

import (
	"strings"
	"testing"
)

func TestPatch(t *testing.T) {
	in := "# head\na:\n  b: 1  # keep me\n  c: x\nlist: [1, 2]\n"
	out, err := Patch([]byte(in), map[string]any{"a.b": 2, "a.d.e": "new", "f": map[string]string{"file": "/p"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "# head\na:\n    b: 2 # keep me\n    c: x\n    d:\n        e: new\nlist: [1, 2]\nf:\n    file: /p\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := Patch([]byte(in), map[string]any{"list.x": 1}); err == nil || !strings.Contains(err.Error(), "list.x") {
		t.Errorf("setting inside a list: %v", err)
	}
}
