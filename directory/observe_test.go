package directory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestClient_SetObserver checks that do reports each operation, with its
// word (never the DN) and its error, and that nil stops the reports.
func TestClient_SetObserver(t *testing.T) {
	c := &Client{slots: make(chan struct{}, 1), conns: map[*ldap.Conn]bool{}, closed: true}
	type call struct {
		op  string
		err error
	}
	var calls []call
	c.SetObserver(func(op string, took time.Duration, err error) {
		if took < 0 {
			t.Errorf("negative duration %v", took)
		}
		calls = append(calls, call{op, err})
	})
	dn := "uid=quoctrang,ou=people,dc=example,dc=vn"
	err := c.do(context.Background(), "modify", dn, func(ldap.Client) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("do on a closed client: %v", err)
	}
	if len(calls) != 1 || calls[0].op != "modify" || !errors.Is(calls[0].err, ErrClosed) {
		t.Fatalf("reported %+v, want one modify with ErrClosed", calls)
	}
	c.SetObserver(nil)
	_ = c.do(context.Background(), "search", dn, func(ldap.Client) error { return nil })
	if len(calls) != 1 {
		t.Errorf("reported after SetObserver(nil): %+v", calls)
	}
}
